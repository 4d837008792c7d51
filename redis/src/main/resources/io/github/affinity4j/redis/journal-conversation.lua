-- affinity4j RedisHistoryJournal: record the items a conversation was created with, keeping its head.
-- KEYS: 1 the conversation's key (in its scope). ARGV: 1 the items, 2 expiry in ms.
redis.call('HSET', KEYS[1], 'i', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 0
