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

-- Nil if the thread's epoch is `expected` ('' = none), else its epoch ('' if it has none): a
-- conditional change decided on an epoch that another claim has since replaced.
local function superseded(base, expected)
  local current = redis.call('GET', base .. ':epoch') or ''
  if current == expected then
    return nil
  end
  return current
end

-- Takes ownership of a thread: its epoch becomes max(epoch + 1, now), returned as text.
local function claim_epoch(base, now, ttl_ms)
  local key = base .. ':epoch'
  local epoch = tonumber(now)
  local current = tonumber(redis.call('GET', key) or '')
  if current and current + 1 > epoch then
    epoch = current + 1
  end
  local text = string.format('%.0f', epoch)
  redis.call('SET', key, text)
  if ttl_ms > 0 then
    redis.call('PEXPIRE', key, ttl_ms)
  end
  return text
end

-- Stores one task's writes, given as field/value/replace triples from ARGV[first] on:
-- insert-or-ignore, except error writes (replace = '1').
local function store_writes(base, ns, ttl_ms, first)
  local writes, wix = base .. ':writes:' .. ns, base .. ':wix:' .. ns
  for i = first, #ARGV, 3 do
    if ARGV[i + 2] == '1' then
      redis.call('HSET', writes, ARGV[i], ARGV[i + 1])
    else
      redis.call('HSETNX', writes, ARGV[i], ARGV[i + 1])
    end
    redis.call('ZADD', wix, 0, ARGV[i])
  end
  redis.call('SADD', base .. ':nss', ns)
  expire_thread(base, ttl_ms)
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
