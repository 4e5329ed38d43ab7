-- Whole checkpoints: record, blob chains and pending writes.
-- KEYS: thread base. ARGV: ttl ms to refresh (0 = none), then ns/id pairs (id '' = latest).
-- Returns per pair {} when absent, else {id, record, {channel, chain, ...}, {field, value, ...}};
-- a chain is the blobs newest first, or {'!', version} when the blob at version is missing.
local base = KEYS[1]
local out, found = {}, false
for i = 2, #ARGV, 2 do
  local ns, id = ARGV[i], ARGV[i + 1]
  if id == '' then
    id = latest(base, ns)
  end
  local record = id and redis.call('HGET', base .. ':cp:' .. ns, id)
  if not record then
    out[#out + 1] = {}
  else
    found = true
    local channels = {}
    local ok, decoded = pcall(cjson.decode, record)
    if ok and type(decoded) == 'table' and type(decoded['channel_versions']) == 'table' then
      local blobs = base .. ':blobs:' .. ns
      for channel, version in pairs(decoded['channel_versions']) do
        if type(channel) == 'string' and type(version) == 'string' then
          local blobs_of, missing = chain(blobs, channel, version)
          channels[#channels + 1] = channel
          channels[#channels + 1] = blobs_of or { '!', missing }
        end
      end
    end
    local writes = {}
    local wkey = base .. ':writes:' .. ns
    for _, field in ipairs(redis.call('ZRANGEBYLEX', base .. ':wix:' .. ns, '(' .. id, '(' .. id .. '\255')) do
      local value = redis.call('HGET', wkey, field)
      if value then
        writes[#writes + 1] = field
        writes[#writes + 1] = value
      end
    end
    out[#out + 1] = { id, record, channels, writes }
  end
end
if found then
  expire_thread(base, tonumber(ARGV[1]))
end
return out
