-- Keeps only the latest checkpoint of each namespace, its pending writes and the blobs it
-- needs. Checks every chain before deleting anything, so a broken chain changes nothing.
-- KEYS: thread base. ARGV: ttl ms.
-- Returns {'ok'} or {'corrupt', ns, checkpoint, channel, missing version}.
local base = KEYS[1]
local plans = {}
for _, ns in ipairs(redis.call('SMEMBERS', base .. ':nss')) do
  local head = latest(base, ns)
  local keep = {}
  if head then
    local record = redis.call('HGET', base .. ':cp:' .. ns, head)
    local ok, decoded = pcall(cjson.decode, record or '')
    if not ok or type(decoded) ~= 'table' or type(decoded['channel_versions']) ~= 'table' then
      return { 'corrupt', ns, head, '', 'the record does not decode' }
    end
    for channel, version in pairs(decoded['channel_versions']) do
      local at = version
      for _ = 1, 1000000 do
        local blob = redis.call('HGET', base .. ':blobs:' .. ns, at .. channel)
        if not blob then
          return { 'corrupt', ns, head, channel, at }
        end
        keep[at .. channel] = true
        if string.sub(blob, 1, 1) ~= 'D' then
          break
        end
        at = string.sub(blob, 2, 37)
      end
    end
  end
  plans[#plans + 1] = { ns, head, keep }
end
local idx = base .. ':idx'
for _, plan in ipairs(plans) do
  local ns, head, keep = plan[1], plan[2], plan[3]
  local keys = ns_keys(base, ns)
  if not head then
    redis.call('DEL', unpack(keys))
    redis.call('SREM', base .. ':nss', ns)
  else
    for _, field in ipairs(redis.call('HKEYS', keys[3])) do
      if not keep[field] then
        redis.call('HDEL', keys[3], field)
      end
    end
    for _, id in ipairs(redis.call('ZRANGE', keys[2], 0, -1)) do
      if id ~= head then
        redis.call('HDEL', keys[1], id)
        redis.call('ZREM', keys[2], id)
        redis.call('ZREM', idx, id .. ns)
      end
    end
    for _, field in ipairs(redis.call('ZRANGE', keys[5], 0, -1)) do
      if string.sub(field, 1, 36) ~= head then
        redis.call('ZREM', keys[5], field)
        redis.call('HDEL', keys[4], field)
      end
    end
  end
end
expire_thread(base, tonumber(ARGV[1]))
return { 'ok' }
