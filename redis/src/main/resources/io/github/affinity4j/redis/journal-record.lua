-- affinity4j RedisHistoryJournal: record one turn, atomically (Redis runs one script at a time),
-- touching a bounded number of keys however long the chain is.
-- ARGV: 1 key prefix, 2 scope key ('' for none), 3 response id, 4 previous response id or '',
--       5 conversation id or '', 6 input items, 7 output items, 8 max bytes per chain,
--       9 expiry in ms, 10 max turns per chain, 11 max segments along a chain, 12 max turns per segment,
--       13 the chain's root ('r:<response id>' or 'c:<conversation id>', escaped), or '' on one node:
--          then this script finds it and keeps the turn's root pointer itself
-- KEYS: on a cluster, 1 the turn's key (it routes the call to the slot of the chain's root)
-- Returns {1 if recorded as a marker (past a per-chain bound) else 0, the parent it was linked to}.
--
-- Every key of a chain is <prefix><section>{<scope key>:<root>}:<name>: the braces are a hash tag, so
-- on a cluster all of a chain's keys share one slot, and a call never reads or writes another scope's
-- keys (see RedisKeys):
--   turn:{T}:<id>  string "2 <segment|-> <chain bytes> <depth> <first marker|->": where a turn is;
--                  a marker (past a bound) has no segment and names the first marker of its chain
--   seg:{T}:<n>    hash: <id> = "2 <input length> <parent> <parent's segment|-|?>\n<input><output>",
--                  ' m' = "<turns> <bytes>[ <ancestor>...]" (a field name with a space is never an id)
--   seg:{T}:#      the counter that names the chain's segments
--   conv:{S:c:<id>}  hash: h = latest response id, i = the items it was created with
--   root:S:<id>    string: the root of the chain a response belongs to (outside the slot: on a
--                  cluster, the connector reads and writes it beside the script)
-- A parent is r:<response id>, c:<conversation id> or - (the start of a chain). A segment holds
-- turns of one region of a chain tree; a turn joins its parent's segment until that is full. Its
-- ancestors (s<n> for a segment, c:<id> for a conversation) are the segments and conversation its
-- chains run through: a record restarts the expiry of its segment and of them, so a chain in use
-- keeps its start, at the cost of at most max-segments keys instead of one per ancestor.
local prefix, scope, id, prev, conv = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local input, output = ARGV[6], ARGV[7]
local maxChain, ttl, maxTurns = tonumber(ARGV[8]), ARGV[9], tonumber(ARGV[10])
local maxSegments, segmentTurns = tonumber(ARGV[11]), tonumber(ARGV[12])
local root = ARGV[13]

-- An id in a hash tag: without braces, so the tag ends where the key says.
local function esc(s)
  return (string.gsub(s, '[%%{}]', { ['%'] = '%25', ['{'] = '%7B', ['}'] = '%7D' }))
end

local function pointer(name)
  return prefix .. 'root:' .. scope .. ':' .. name
end

local onOneNode = root == ''
if onOneNode then
  if conv ~= '' then
    root = 'c:' .. esc(conv)
  elseif prev ~= '' then
    root = redis.call('GET', pointer(prev)) or ('r:' .. esc(prev))
  else
    root = 'r:' .. esc(id)
  end
end
local tag = '{' .. scope .. ':' .. root .. '}:'

local function key(section, name)
  return prefix .. section .. tag .. name
end

local function convKey(name)
  return prefix .. 'conv:{' .. scope .. ':c:' .. esc(name) .. '}'
end

local function ancestorKey(a)
  if string.sub(a, 1, 2) == 'c:' then
    return convKey(string.sub(a, 3))
  end
  return key('seg:', string.sub(a, 2))
end

-- A turn's index: {seg, bytes, depth, first}; nil if absent or not of this format.
local function index(name)
  local v = redis.call('GET', key('turn:', name))
  if not v then
    return nil
  end
  local seg, bytes, depth, first = string.match(v, '^2 (%S+) (%d+) (%d+) (%S+)$')
  if not seg then
    return nil
  end
  return { seg = seg, bytes = tonumber(bytes), depth = tonumber(depth), first = first }
end

-- A segment's metadata: {turns, bytes, ancestors (the text after the two numbers)}; nil if gone.
local function meta(seg)
  local m = redis.call('HGET', key('seg:', seg), ' m')
  if not m then
    return nil
  end
  local turns, bytes, ancestors = string.match(m, '^(%d+) (%d+)(.*)$')
  if not turns then
    return nil
  end
  return { turns = tonumber(turns), bytes = tonumber(bytes), ancestors = ancestors }
end

local function newSegment()
  local n
  local counter = key('seg:', '#')
  repeat -- the counter may expire or be evicted before the chain's segments: never reuse a name
    n = tostring(redis.call('INCR', counter))
  until redis.call('EXISTS', key('seg:', n)) == 0
  redis.call('PEXPIRE', counter, ttl)
  return n
end

local parent = '-'
if prev ~= '' then
  parent = 'r:' .. prev
end
if conv ~= '' then
  local ckey = convKey(conv)
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

local parentBytes, depth, first, parentSeg = 0, 0, '-', '-'
local ancestors = ''   -- the new segment's ancestors, if it needs one
local join = nil       -- {seg, meta}: the segment the turn may join
if string.sub(parent, 1, 2) == 'r:' then
  local pid = string.sub(parent, 3)
  local p = index(pid)
  parentSeg = '?' -- unknown until found: a walk then looks the parent up by its id
  if p then
    redis.call('PEXPIRE', key('turn:', pid), ttl)
    parentBytes, depth, first = p.bytes, p.depth + 1, p.first
    local m = first == '-' and p.seg ~= '-' and meta(p.seg)
    if m then
      parentSeg = p.seg
      join = { seg = p.seg, meta = m }
      ancestors = m.ancestors .. ' s' .. p.seg
    end
  end
elseif string.sub(parent, 1, 2) == 'c:' then
  parentBytes = redis.call('HSTRLEN', convKey(conv), 'i')
  ancestors = ' ' .. parent
end

local chainBytes = parentBytes + #input + #output
if first == '-' and (chainBytes > maxChain or depth >= maxTurns) then
  first = id
end
local value = '2 ' .. #input .. ' ' .. parent .. ' ' .. parentSeg .. '\n' .. input .. output

local seg, own = nil, nil
if first == '-' then
  if join and join.meta.turns < segmentTurns and join.meta.bytes + #value <= maxChain then
    seg, own = join.seg, join.meta
  else
    local count = 0
    for _ in string.gmatch(ancestors, '%S+') do
      count = count + 1
    end
    if count >= maxSegments then
      first = id -- a chain that branched this often is not kept whole
    else
      seg, own = newSegment(), { turns = 0, bytes = 0, ancestors = ancestors }
    end
  end
end

-- The same response recorded again (a background response, when it completes) replaces its
-- earlier record: drop that copy, so that a forget finds every copy through the turn's key (a
-- walk that meets the dropped copy looks the turn up by its id).
local function replaced(old)
  local oldSeg = old and string.match(old, '^2 (%S+) ')
  if oldSeg and oldSeg ~= '-' and oldSeg ~= seg then
    redis.call('HDEL', key('seg:', oldSeg), id)
  end
end

-- On one node the script keeps the pointers; on a cluster the connector does, beside it.
if onOneNode then
  redis.call('SET', pointer(id), root, 'PX', ttl)
  if prev ~= '' then
    redis.call('PEXPIRE', pointer(prev), ttl)
  end
end

if first ~= '-' then
  replaced(redis.call('SET', key('turn:', id), string.format('2 - %d %d %s', chainBytes, depth, first),
    'PX', ttl, 'GET'))
  return { 1, parent }
end
local skey = key('seg:', seg)
redis.call('HSET', skey, id, value,
  ' m', (own.turns + 1) .. ' ' .. (own.bytes + #value) .. own.ancestors)
redis.call('PEXPIRE', skey, ttl)
for a in string.gmatch(own.ancestors, '%S+') do
  redis.call('PEXPIRE', ancestorKey(a), ttl)
end
replaced(redis.call('SET', key('turn:', id), string.format('2 %s %d %d -', seg, chainBytes, depth),
  'PX', ttl, 'GET'))
return { 0, parent }
