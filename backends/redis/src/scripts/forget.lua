-- Drops a thread from the registry once none of its keys is left (they expired).
-- KEYS: thread base, thread registry. ARGV: thread id.
if redis.call('EXISTS', KEYS[1] .. ':nss') == 0 then
  redis.call('ZREM', KEYS[2], ARGV[1])
  return 1
end
return 0
