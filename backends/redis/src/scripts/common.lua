-- Shared by every script. KEYS[1] is always a thread's base key `<prefix>:{<thread>}`; the
-- thread's other keys are derived from it (they share its hash tag, so one cluster slot).
local function ns_keys(base, ns)
  return {
    base .. ':cp:' .. ns,     -- HASH  checkpoint id -> record (JSON)
    base .. ':ord:' .. ns,    -- ZSET  checkpoint ids, score 0, lexicographic = time order
    base .. ':blobs:' .. ns,  -- HASH  <version><channel> -> 'S'..data | 'D'..<base>..data
    base .. ':writes:' .. ns, -- HASH  <checkpoint><task><idx> -> encoded write
    base .. ':wix:' .. ns,    -- ZSET  the same fields, ordered by checkpoint, task, idx
  }
end

local function thread_keys(base)
  local keys = { base .. ':idx', base .. ':nss' }
  for _, ns in ipairs(redis.call('SMEMBERS', base .. ':nss')) do
    for _, key in ipairs(ns_keys(base, ns)) do
      keys[#keys + 1] = key
    end
  end
  return keys
end

local function expire_thread(base, ttl_ms)
  if ttl_ms > 0 then
    for _, key in ipairs(thread_keys(base)) do
      redis.call('PEXPIRE', key, ttl_ms)
    end
    redis.call('PEXPIRE', base .. ':epoch', ttl_ms)
  end
end

-- Nil if a write carrying `epoch` ('' = none) may go ahead, else the thread's epoch ('' if it
-- has none): a write of an owner that another run has since claimed the thread from.
local function fenced(base, epoch)
  if epoch == '' then
    return nil
  end
  local current = redis.call('GET', base .. ':epoch')
  if current == epoch then
    return nil
  end
  return current or ''
end

local function latest(base, ns)
  return redis.call('ZREVRANGEBYLEX', base .. ':ord:' .. ns, '+', '-', 'LIMIT', 0, 1)[1]
end

-- The blob fields (newest first) rebuilding `channel` at `version`, or nil and the version
-- whose blob is missing.
local function chain(blobs, channel, version)
  local out, at = {}, version
  for _ = 1, 1000000 do
    local blob = redis.call('HGET', blobs, at .. channel)
    if not blob then
      return nil, at
    end
    out[#out + 1] = blob
    if string.sub(blob, 1, 1) ~= 'D' then
      return out
    end
    at = string.sub(blob, 2, 37)
  end
  return nil, at
end
