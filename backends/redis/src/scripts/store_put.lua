-- A store put. KEYS: the item's hash, the store's index. ARGV: the put's time (microseconds),
-- the value, the item's id, its time to live and expiry (microseconds; empty for none).
-- An item that has expired by the caller's clock is replaced as a new one, so it takes the
-- put's time as its creation time, as on every store.
local item, index = KEYS[1], KEYS[2]
local at = tonumber(ARGV[1])
local expires = redis.call('HGET', item, 'expires')
if expires and tonumber(expires) <= at then
  redis.call('DEL', item)
end
redis.call('HSETNX', item, 'created', ARGV[1])
redis.call('HSET', item, 'value', ARGV[2], 'updated', ARGV[1])
if ARGV[4] ~= '' then
  redis.call('HSET', item, 'ttl', ARGV[4], 'expires', ARGV[5])
  redis.call('PEXPIREAT', item, math.floor(tonumber(ARGV[5]) / 1000) + 1)
else
  redis.call('HDEL', item, 'ttl', 'expires')
  redis.call('PERSIST', item)
end
redis.call('ZADD', index, ARGV[1], ARGV[3])
return 1
