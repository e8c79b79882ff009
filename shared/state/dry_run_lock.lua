-- The lock of a next-sync dry run (shared/state/dry_run_cache.py), touched only by its
-- holder. KEYS: 1 the lock. ARGV: 1 the holder's token, 2 a new TTL in ms (0: release).
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == '0' then return redis.call('DEL', KEYS[1]) end
return redis.call('PEXPIRE', KEYS[1], ARGV[2])
