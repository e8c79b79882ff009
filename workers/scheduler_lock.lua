-- The scheduler's lock, held by whoever owns its token.
-- KEYS: 1 lock; ARGV: 1 token, 2 milliseconds to extend by (0 = release)
-- Returns 1 when the caller still held the lock (now extended or released), else 0.
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
if tonumber(ARGV[2]) == 0 then
  redis.call('DEL', KEYS[1])
else
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 1
