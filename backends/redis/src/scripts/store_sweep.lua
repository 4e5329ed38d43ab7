-- A store sweep of some items. KEYS: the store's index, then the items' hashes. ARGV: the
-- sweep's time (microseconds), then the items' ids, in the order of their hashes. An item that
-- is gone (Redis expired it) or has expired by the caller's clock is deleted with its index
-- entry; one put again since the caller read it is live, and kept. Returns how many went.
local index, at, removed = KEYS[1], tonumber(ARGV[1]), 0
for i = 2, #KEYS do
  local expires = redis.call('HGET', KEYS[i], 'expires')
  local gone = redis.call('EXISTS', KEYS[i]) == 0
  if gone or (expires and tonumber(expires) <= at) then
    redis.call('DEL', KEYS[i])
    removed = removed + redis.call('ZREM', index, ARGV[i])
  end
end
return removed
