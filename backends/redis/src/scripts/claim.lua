-- Takes ownership of a thread: its epoch becomes max(epoch + 1, now), returned.
-- KEYS: thread base. ARGV: now (microseconds), ttl ms.
local key = KEYS[1] .. ':epoch'
local epoch = tonumber(ARGV[1])
local current = tonumber(redis.call('GET', key) or '')
if current and current + 1 > epoch then
  epoch = current + 1
end
redis.call('SET', key, string.format('%.0f', epoch))
local ttl = tonumber(ARGV[2])
if ttl > 0 then
  redis.call('PEXPIRE', key, ttl)
end
return epoch
