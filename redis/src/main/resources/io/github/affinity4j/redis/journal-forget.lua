-- affinity4j RedisHistoryJournal: forget one turn or one conversation, because the API deleted it.
-- ARGV: 1 key prefix, 2 scope key, 3 kind ('r' response, 'c' conversation), 4 its id
-- Returns how many keys or fields were removed. Later turns keep their records but can no longer be
-- replayed: their walk back meets the hole.
local prefix, scope, kind, id = ARGV[1], ARGV[2], ARGV[3], ARGV[4]

local function key(section, name)
  return prefix .. section .. scope .. ':' .. name
end

if kind == 'c' then
  return redis.call('DEL', key('conv:', id))
end
local ikey = key('turn:', id)
local v = redis.call('GET', ikey)
local removed = 0
if v then
  local seg = string.match(v, '^2 (%S+) ')
  if seg and seg ~= '-' then
    removed = redis.call('HDEL', key('seg:', seg), id)
  end
end
return removed + redis.call('DEL', ikey)
