-- Stores one checkpoint with its blobs and index entries, all or nothing, after checking its
-- parent against the namespace's latest checkpoint.
-- KEYS: thread base, thread registry.
-- ARGV: mode ('advance' | 'fork'), ns, id, parent ('' = none), record, thread id, ttl ms,
--       epoch ('' = none), then blob field/value pairs.
local base, registry = KEYS[1], KEYS[2]
local mode, ns, id, parent = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local current = fenced(base, ARGV[8])
if current then
  return { 'fenced', current }
end
local cp = base .. ':cp:' .. ns
local head = latest(base, ns) or ''
if mode == 'advance' then
  if head ~= parent then
    return { 'conflict', head }
  end
elseif parent ~= '' and redis.call('HEXISTS', cp, parent) == 0 then
  return { 'missing_parent' }
end
local blobs = base .. ':blobs:' .. ns
for i = 9, #ARGV, 2 do
  redis.call('HSETNX', blobs, ARGV[i], ARGV[i + 1])
end
redis.call('HSET', cp, id, ARGV[5])
redis.call('ZADD', base .. ':ord:' .. ns, 0, id)
redis.call('ZADD', base .. ':idx', 0, id .. ns)
redis.call('SADD', base .. ':nss', ns)
redis.call('ZADD', registry, 0, ARGV[6])
expire_thread(base, tonumber(ARGV[7]))
return { 'ok' }
