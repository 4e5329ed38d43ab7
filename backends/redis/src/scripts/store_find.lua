-- The items a store search finds, filtered on the server so only matches travel.
-- KEYS[1]: the store's index (ids by update time).
-- ARGV[1]: the prefix of item keys; ARGV[2]: the id prefix ('' for every namespace);
-- ARGV[3]: now, in microseconds; ARGV[4]: the filters, JSON [[field, op, value], ...].
-- Returns a flat list: id, value, created, updated, ttl ('' if none), expires ('' if none).
-- The semantics are `Filter::matches`: numbers as numbers, strings in byte order (compared
-- here byte by byte: Lua's own string order follows the server's locale), booleans and null
-- only for (in)equality, a missing field or another kind never matches.

local function bytes_cmp(a, b)
  local n = math.min(#a, #b)
  for i = 1, n do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then
      if x < y then return -1 else return 1 end
    end
  end
  if #a == #b then return 0 elseif #a < #b then return -1 else return 1 end
end

local function order(found, wanted, op)
  local ft, wt = type(found), type(wanted)
  if ft == 'number' and wt == 'number' then
    if found < wanted then return -1 elseif found > wanted then return 1 else return 0 end
  elseif ft == 'string' and wt == 'string' then
    return bytes_cmp(found, wanted)
  elseif (op == 'eq' or op == 'ne') and ft == 'boolean' and wt == 'boolean' then
    if found == wanted then return 0 else return 1 end
  elseif (op == 'eq' or op == 'ne') and found == cjson.null and wanted == cjson.null then
    return 0
  end
  return nil
end

local function passes(value, filter)
  local found = value[filter[1]]
  if found == nil then return false end
  local o = order(found, filter[3], filter[2])
  if o == nil then return false end
  local op = filter[2]
  if op == 'eq' then return o == 0
  elseif op == 'ne' then return o ~= 0
  elseif op == 'gt' then return o > 0
  elseif op == 'gte' then return o >= 0
  elseif op == 'lt' then return o < 0
  else return o <= 0 end
end

local base, start, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
local filters = cjson.decode(ARGV[4])
local out = {}
for _, id in ipairs(redis.call('ZREVRANGE', KEYS[1], 0, -1)) do
  if start == '' or string.sub(id, 1, #start) == start then
    local h = redis.call('HMGET', base .. id, 'value', 'created', 'updated', 'ttl', 'expires')
    local raw, expires = h[1], h[5]
    if raw and (not expires or tonumber(expires) > now) then
      local ok = true
      if #filters > 0 then
        local value = cjson.decode(raw)
        for _, filter in ipairs(filters) do
          if not passes(value, filter) then ok = false; break end
        end
      end
      if ok then
        table.insert(out, id)
        table.insert(out, raw)
        table.insert(out, h[2] or '')
        table.insert(out, h[3] or '')
        table.insert(out, h[4] or '')
        table.insert(out, expires or '')
      end
    end
  end
end
return out
