-- affinity4j RedisHistoryJournal: read a chain's history in one round trip, touching every link read.
-- ARGV: 1 key prefix, 2 kind of the chain ('r' response, 'c' conversation), 3 its id,
--       4 max bytes per chain, 5 expiry in ms, 6 most links to walk
-- Returns {status, link, turns, last response id, has root items (0/1), root items, turns newest first...}
-- status: 'C' complete, 'M' a link missing (link says which), 'T' too large (link: the first marker,
-- or '' for the chain asked for). Turns are returned as stored (see journal-record.lua).
local prefix, kind, id = ARGV[1], ARGV[2], ARGV[3]
local maxChain, ttl, maxLinks = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])

local function keyOf(ref)
  if string.sub(ref, 1, 1) == 'r' then
    return prefix .. 'turn:' .. string.sub(ref, 3)
  end
  return prefix .. 'conv:' .. string.sub(ref, 3)
end

local function parse(h)
  local nl = string.find(h, '\n', 1, true)
  if not nl then
    return nil
  end
  local v, inLen, parent = string.match(string.sub(h, 1, nl - 1), '^(%d+) %d+ %d+ (%-?%d+) (%S+)$')
  if v ~= '1' then
    return nil
  end
  return { marker = inLen == '-1', parent = parent, items = #h - nl }
end

local nextRef, last
if kind == 'c' then
  local ckey = prefix .. 'conv:' .. id
  local root = redis.call('HMGET', ckey, 'h', 'i')
  local head, items = root[1], root[2]
  if not head and not items then
    return { 'M', 'c:' .. id, 0, '', 0, '' }
  end
  redis.call('PEXPIRE', ckey, ttl)
  if not head then
    return { 'C', '', 0, '', 1, items }
  end
  nextRef, last = 'r:' .. head, head
else
  nextRef, last = 'r:' .. id, id
end

local seen, turns, bytes, links = {}, 0, 0, 0
local values = {}
local hasRoot, rootItems = 0, ''
while nextRef ~= '-' do
  if seen[nextRef] then
    return { 'M', nextRef, turns, '', 0, '' } -- a cycle
  end
  seen[nextRef] = true
  links = links + 1
  if links > maxLinks then
    return { 'T', '', 0, '', 0, '' }
  end
  local key = keyOf(nextRef)
  if string.sub(nextRef, 1, 1) == 'c' then
    local items = redis.call('HGET', key, 'i')
    if not items then
      return { 'M', nextRef, turns, '', 0, '' } -- created before it was journaled, or gone
    end
    redis.call('PEXPIRE', key, ttl)
    hasRoot, rootItems = 1, items
    bytes = bytes + #items
    break
  end
  local v = redis.call('GET', key)
  local h = v and parse(v)
  if not h then
    return { 'M', nextRef, turns, '', 0, '' }
  end
  redis.call('PEXPIRE', key, ttl)
  if h.marker then
    -- Walk back over markers to the first turn that passed the bound.
    local first, ref = nextRef, h.parent
    while ref ~= '-' and string.sub(ref, 1, 1) == 'r' and not seen[ref] do
      seen[ref] = true
      local a = parse(redis.call('GETRANGE', keyOf(ref), 0, 600) .. '')
      if not a or not a.marker then
        break
      end
      first, ref = ref, a.parent
    end
    return { 'T', first, 0, '', 0, '' }
  end
  turns = turns + 1
  bytes = bytes + h.items
  if bytes <= maxChain then
    values[#values + 1] = v
  end
  nextRef = h.parent
end
if bytes > maxChain then
  return { 'T', '', 0, '', 0, '' } -- links recorded out of order can pass the bound unmarked
end
local result = { 'C', '', turns, last, hasRoot, rootItems }
for i = 1, #values do
  result[#result + 1] = values[i]
end
return result
