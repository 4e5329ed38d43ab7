-- Stores one task's writes: insert-or-ignore, except error writes (replace = '1').
-- KEYS: thread base. ARGV: ns, ttl ms, epoch ('' = none), then field/value/replace triples.
local base = KEYS[1]
local current = fenced(base, ARGV[3])
if current then
  return { 'fenced', current }
end
store_writes(base, ARGV[1], tonumber(ARGV[2]), 4)
return { 'ok' }
