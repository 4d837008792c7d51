-- affinity4j RedisHistoryJournal: forget one turn or one conversation, because the API deleted it.
-- ARGV: 1 key prefix, 2 scope key, 3 kind ('r' response, 'c' conversation), 4 its id,
--       5 the chain's root (see journal-record.lua), or '' on one node: then this script finds it and
--         drops the turn's root pointer itself
-- KEYS: on a cluster, 1 a key in the chain's slot (it routes the call there)
-- Returns how many keys or fields were removed. Later turns keep their records but can no longer be
-- replayed: their walk back meets the hole.
local prefix, scope, kind, id, root = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]

local function esc(s)
  return (string.gsub(s, '[%%{}]', { ['%'] = '%25', ['{'] = '%7B', ['}'] = '%7D' }))
end

if kind == 'c' then
  return redis.call('DEL', prefix .. 'conv:{' .. scope .. ':c:' .. esc(id) .. '}')
end
local removed = 0
if root == '' then -- one node: the pointer says where the turn is
  local pointer = prefix .. 'root:' .. scope .. ':' .. id
  root = redis.call('GET', pointer)
  if not root then
    return 0
  end
  removed = redis.call('DEL', pointer)
end
local tag = '{' .. scope .. ':' .. root .. '}:'
local ikey = prefix .. 'turn:' .. tag .. id
local v = redis.call('GET', ikey)
if v then
  local seg = string.match(v, '^2 (%S+) ')
  if seg and seg ~= '-' then
    removed = removed + redis.call('HDEL', prefix .. 'seg:' .. tag .. seg, id)
  end
end
return removed + redis.call('DEL', ikey)
