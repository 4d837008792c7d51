-- affinity4j RedisHistoryJournal: read one page of a chain's history, newest first, restarting the
-- expiry of every segment read. A page ends after a bounded number of links or bytes, so no call
-- holds Redis for long however long the chain; the caller asks for the next page from the cursor.
-- ARGV: 1 key prefix, 2 scope key, 3 kind of the chain ('r' response, 'c' conversation), 4 its id,
--       5 max bytes per chain, 6 expiry in ms, 7 max turns per chain, 8 most links in this page,
--       9 most bytes in this page, 10 cursor: the next link ('' for the first page), 11 its segment,
--       12 the chain's root (see journal-record.lua), or '' on one node: then this script finds it
-- KEYS: on a cluster, 1 a key in the chain's slot (it routes the call there)
-- Returns {status, link, segment, last, has root items (0/1), root items, turns newest first...}:
--   'C' complete: this page reached the start
--   'P' a page: read on from link in segment
--   'M' a link is missing: link names it, the fifth element says how many turns this page found
--       before it, and they follow (a turn recorded while its parent waited in another instance's
--       queue lies under another root: the caller may read on from the parent's own root pointer)
--   'T' too large: link names the first marker, or is '' for the chain asked for
-- last is the chain's newest response id on a first page ('' for a conversation without turns, or
-- if the first link is missing).
-- Turns are returned as stored (see journal-record.lua for the layout).
local prefix, scope, kind, id = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local maxChain, ttl, maxTurns = tonumber(ARGV[5]), ARGV[6], tonumber(ARGV[7])
local pageLinks, pageBytes = tonumber(ARGV[8]), tonumber(ARGV[9])
local ref, seg, root = ARGV[10], ARGV[11], ARGV[12]

local links, values, last = 0, {}, '' -- read in this page; the chain's newest response

local function withValues(page)
  for i = 1, #values do
    page[#page + 1] = values[i]
  end
  return page
end

local function missing(link)
  return withValues({ 'M', link, '', last, links, '' })
end

local function esc(s)
  return (string.gsub(s, '[%%{}]', { ['%'] = '%25', ['{'] = '%7B', ['}'] = '%7D' }))
end

if root == '' then -- one node: find the root here, restarting its pointer's expiry
  if kind == 'c' then
    root = 'c:' .. esc(id)
  else
    local pointer = prefix .. 'root:' .. scope .. ':' .. id
    root = redis.call('GET', pointer)
    if not root then
      return missing('r:' .. id)
    end
    if ref == '' then
      redis.call('PEXPIRE', pointer, ttl)
    end
  end
end
local tag = '{' .. scope .. ':' .. root .. '}:'

local function key(section, name)
  return prefix .. section .. tag .. name
end

local function convKey(name)
  return prefix .. 'conv:{' .. scope .. ':c:' .. esc(name) .. '}'
end

if ref == '' then
  if kind == 'c' then
    local ckey = convKey(id)
    local head = redis.call('HMGET', ckey, 'h', 'i')
    if not head[1] and not head[2] then
      return missing('c:' .. id)
    end
    redis.call('PEXPIRE', ckey, ttl)
    if not head[1] then
      return { 'C', '', '', '', 1, head[2] }
    end
    id = head[1]
  end
  local ikey = key('turn:', id)
  local v = redis.call('GET', ikey)
  local s, bytes, depth, first
  if v then
    s, bytes, depth, first = string.match(v, '^2 (%S+) (%d+) (%d+) (%S+)$')
  end
  if not s then
    return missing('r:' .. id)
  end
  redis.call('PEXPIRE', ikey, ttl)
  -- The bounds are known from the newest turn alone: no walk for a chain that cannot be replayed.
  if first ~= '-' then
    return { 'T', 'r:' .. first, '', '', 0, '' }
  end
  if tonumber(bytes) > maxChain or tonumber(depth) >= maxTurns then
    return { 'T', '', '', '', 0, '' }
  end
  ref, seg, last = 'r:' .. id, s, id
end

local got, seen, touched = 0, {}, {}
local hasRoot, rootItems = 0, ''
while ref ~= '-' do
  if string.sub(ref, 1, 2) == 'c:' then
    local ckey = convKey(string.sub(ref, 3))
    if 'c:' .. esc(string.sub(ref, 3)) ~= root then
      return missing(ref) -- not this chain's conversation: another slot
    end
    local items = redis.call('HGET', ckey, 'i')
    if not items then
      return missing(ref) -- created before it was journaled, or gone
    end
    redis.call('PEXPIRE', ckey, ttl)
    hasRoot, rootItems = 1, items
    break
  end
  if links >= pageLinks or got >= pageBytes then
    return withValues({ 'P', ref, seg, last, 0, '' })
  end
  if seen[ref] then
    return missing(ref) -- a cycle
  end
  seen[ref] = true
  local rid = string.sub(ref, 3)
  local v = seg ~= '?' and redis.call('HGET', key('seg:', seg), rid)
  if not v then
    -- Recorded before its parent, or recorded again elsewhere: look the turn up by its id.
    local found = redis.call('GET', key('turn:', rid))
    local other = found and string.match(found, '^2 (%S+) ')
    if not other or other == '-' or other == seg then
      return missing(ref)
    end
    seg = other
    v = redis.call('HGET', key('seg:', seg), rid)
    if not v then
      return missing(ref)
    end
  end
  if not touched[seg] then
    redis.call('PEXPIRE', key('seg:', seg), ttl)
    touched[seg] = true
  end
  local parent, parentSeg = string.match(v, '^2 %d+ (%S+) (%S+)\n')
  if not parent then
    return missing(ref)
  end
  values[#values + 1] = v
  links = links + 1
  got = got + #v
  ref, seg = parent, parentSeg
end
return withValues({ 'C', '', '', last, hasRoot, rootItems })
