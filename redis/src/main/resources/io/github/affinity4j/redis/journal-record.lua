-- affinity4j RedisHistoryJournal: record one turn, atomically (Redis runs one script at a time).
-- ARGV: 1 key prefix, 2 response id, 3 previous response id or '', 4 conversation id or '',
--       5 input items, 6 output items, 7 max bytes per chain, 8 expiry in ms, 9 most links to touch
-- Returns 1 if the turn was recorded as a marker (its chain is past the bytes-per-chain bound), else 0.
-- A turn is a string "1 <chain bytes> <depth> <input length, -1 in a marker> <parent>\n<input><output>",
-- <parent> being r:<response id>, c:<conversation id> or - (the start of a chain).
-- A conversation is a hash: h = its latest response id, i = the items it was created with.
local prefix, id, prev, conv = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local input, output = ARGV[5], ARGV[6]
local maxChain, ttl, maxLinks = tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])

local function keyOf(ref)
  if string.sub(ref, 1, 1) == 'r' then
    return prefix .. 'turn:' .. string.sub(ref, 3)
  end
  return prefix .. 'conv:' .. string.sub(ref, 3)
end

-- The header of a turn, read without its items; nil if absent or not a turn of this format.
local function header(key)
  local h = redis.call('GETRANGE', key, 0, 600)
  local nl = string.find(h, '\n', 1, true)
  if not nl then
    return nil
  end
  local v, bytes, depth, inLen, parent =
      string.match(string.sub(h, 1, nl - 1), '^(%d+) (%d+) (%d+) (%-?%d+) (%S+)$')
  if v ~= '1' then
    return nil
  end
  return { bytes = tonumber(bytes), depth = tonumber(depth), marker = inLen == '-1', parent = parent }
end

local parent = '-'
if prev ~= '' then
  parent = 'r:' .. prev
end
if conv ~= '' then
  local ckey = prefix .. 'conv:' .. conv
  local head = redis.call('HGET', ckey, 'h')
  redis.call('HSET', ckey, 'h', id)
  redis.call('PEXPIRE', ckey, ttl)
  if prev == '' then
    if head and head ~= id then
      parent = 'r:' .. head
    else
      parent = 'c:' .. conv
    end
  end
end

local parentBytes, depth, tooLarge = 0, 0, false
if parent ~= '-' then
  local pkey = keyOf(parent)
  if string.sub(parent, 1, 1) == 'r' then
    local h = header(pkey)
    if h then
      redis.call('PEXPIRE', pkey, ttl)
      parentBytes, depth, tooLarge = h.bytes, h.depth + 1, h.marker
      -- Touch every ancestor, so that the chain expires as a unit.
      local ref, steps = h.parent, math.min(h.depth + 1, maxLinks)
      while ref ~= '-' and steps > 0 do
        local akey = keyOf(ref)
        if string.sub(ref, 1, 1) == 'c' then
          redis.call('PEXPIRE', akey, ttl)
          break
        end
        local a = header(akey)
        if not a then
          break
        end
        redis.call('PEXPIRE', akey, ttl)
        ref = a.parent
        steps = steps - 1
      end
    end
  else
    parentBytes = redis.call('HSTRLEN', pkey, 'i')
    redis.call('PEXPIRE', pkey, ttl)
  end
end

local chainBytes = parentBytes + #input + #output
if not tooLarge and chainBytes > maxChain then
  tooLarge = true
end
local value
if tooLarge then
  value = string.format('1 %d %d -1 %s\n', chainBytes, depth, parent)
else
  value = string.format('1 %d %d %d %s\n', chainBytes, depth, #input, parent) .. input .. output
end
redis.call('SET', prefix .. 'turn:' .. id, value, 'PX', ttl)
if tooLarge then
  return 1
end
return 0
