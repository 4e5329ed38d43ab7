-- One page of a thread's checkpoint records, newest first, for listings.
-- KEYS: thread base. ARGV: scoped ('1' = only namespace ns), ns, max bound, count.
-- Returns member, ns, record triples (record '' when it vanished meanwhile).
local base = KEYS[1]
local scoped, ns = ARGV[1] == '1', ARGV[2]
local index = scoped and (base .. ':ord:' .. ns) or (base .. ':idx')
local members = redis.call('ZREVRANGEBYLEX', index, ARGV[3], '-', 'LIMIT', 0, tonumber(ARGV[4]))
local out = {}
for _, member in ipairs(members) do
  local id, at = member, ns
  if not scoped then
    id, at = string.sub(member, 1, 36), string.sub(member, 37)
  end
  out[#out + 1] = member
  out[#out + 1] = at
  out[#out + 1] = redis.call('HGET', base .. ':cp:' .. at, id) or ''
end
return out
