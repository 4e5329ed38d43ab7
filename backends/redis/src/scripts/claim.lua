-- Takes ownership of a thread: its epoch becomes max(epoch + 1, now), returned.
-- KEYS: thread base. ARGV: now (microseconds), ttl ms.
return tonumber(claim_epoch(KEYS[1], ARGV[1], tonumber(ARGV[2])))
