-- A lock held by whoever owns its token (the scheduler's, an OAuth refresh's, a dry run's:
-- shared/token_lock.py). KEYS: 1 the lock; ARGV: 1 the token, 2 milliseconds to extend
-- by (0 = release). Returns 1 when the caller still held the lock (now extended or
-- released), else 0 (another holder's lock is never touched).
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
if tonumber(ARGV[2]) == 0 then
  redis.call('DEL', KEYS[1])
else
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 1
