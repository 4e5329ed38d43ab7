-- Deletes every key of a thread and its registry entry; with an expected epoch ('' = none),
-- only if the thread's epoch is still that one.
-- KEYS: thread base, thread registry. ARGV: thread id, expected epoch ('-' = any).
local base = KEYS[1]
if ARGV[2] ~= '-' then
  local current = superseded(base, ARGV[2])
  if current then
    return { 'superseded', current }
  end
end
for _, key in ipairs(thread_keys(base)) do
  redis.call('DEL', key)
end
redis.call('DEL', base .. ':epoch')
redis.call('ZREM', KEYS[2], ARGV[1])
return { 'ok' }
