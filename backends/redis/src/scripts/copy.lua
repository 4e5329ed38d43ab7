-- Copies every key of thread `from` to thread `to`, which must have no checkpoint.
-- KEYS: source base, destination base, thread registry. ARGV: destination id, ttl ms.
local src, dst = KEYS[1], KEYS[2]
for _, ns in ipairs(redis.call('SMEMBERS', dst .. ':nss')) do
  if redis.call('ZCARD', dst .. ':ord:' .. ns) > 0 then
    return 'exists'
  end
end
if redis.call('EXISTS', src .. ':nss') == 0 then
  return 'empty'
end
for _, key in ipairs(thread_keys(dst)) do
  redis.call('DEL', key)
end
local suffixes = { ':idx', ':nss' }
for _, ns in ipairs(redis.call('SMEMBERS', src .. ':nss')) do
  for _, kind in ipairs({ ':cp:', ':ord:', ':blobs:', ':writes:', ':wix:' }) do
    suffixes[#suffixes + 1] = kind .. ns
  end
end
for _, suffix in ipairs(suffixes) do
  if redis.call('EXISTS', src .. suffix) == 1 then
    redis.call('COPY', src .. suffix, dst .. suffix, 'REPLACE')
    redis.call('PERSIST', dst .. suffix)
  end
end
if redis.call('ZCARD', dst .. ':idx') > 0 then
  redis.call('ZADD', KEYS[3], 0, ARGV[1])
end
expire_thread(dst, tonumber(ARGV[2]))
return 'ok'
