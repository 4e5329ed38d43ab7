-- Stores one task's writes: insert-or-ignore, except error writes (replace = '1').
-- KEYS: thread base. ARGV: ns, ttl ms, epoch ('' = none), then field/value/replace triples.
local base, ns = KEYS[1], ARGV[1]
local current = fenced(base, ARGV[3])
if current then
  return { 'fenced', current }
end
local writes, wix = base .. ':writes:' .. ns, base .. ':wix:' .. ns
for i = 4, #ARGV, 3 do
  if ARGV[i + 2] == '1' then
    redis.call('HSET', writes, ARGV[i], ARGV[i + 1])
  else
    redis.call('HSETNX', writes, ARGV[i], ARGV[i + 1])
  end
  redis.call('ZADD', wix, 0, ARGV[i])
end
redis.call('SADD', base .. ':nss', ns)
expire_thread(base, tonumber(ARGV[2]))
return { 'ok' }
