-- Deletes every key of a thread and its registry entry.
-- KEYS: thread base, thread registry. ARGV: thread id.
local base = KEYS[1]
for _, key in ipairs(thread_keys(base)) do
  redis.call('DEL', key)
end
redis.call('DEL', base .. ':epoch')
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
