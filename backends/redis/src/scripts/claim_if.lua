-- Takes ownership of a thread only if its epoch is still the expected one, and stores one
-- task's writes with it.
-- KEYS: thread base. ARGV: now (microseconds), ttl ms, expected epoch ('' = none), ns, then
-- field/value/replace triples.
local base = KEYS[1]
local current = superseded(base, ARGV[3])
if current then
  return { 'superseded', current }
end
local epoch = claim_epoch(base, ARGV[1], tonumber(ARGV[2]))
if #ARGV >= 5 then
  store_writes(base, ARGV[4], tonumber(ARGV[2]), 5)
end
return { 'ok', epoch }
