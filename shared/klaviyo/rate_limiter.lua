-- Take one call from a (Klaviyo account, operation) budget, or say how long to wait.
-- KEYS: 1 burst window counter (this second), 2 steady window counter (this minute),
--       3 block key (set after a 429 until Retry-After has passed)
-- ARGV: 1 burst limit, 2 steady limit, 3 ms left in this second, 4 ms left in this minute
-- Returns 0 when the call may go (both counters taken), else the ms to wait.
local blocked = redis.call('PTTL', KEYS[3])
if blocked > 0 then
  return blocked
end
local burst = tonumber(redis.call('GET', KEYS[1]) or '0')
if burst >= tonumber(ARGV[1]) then
  return tonumber(ARGV[3])
end
local steady = tonumber(redis.call('GET', KEYS[2]) or '0')
if steady >= tonumber(ARGV[2]) then
  return tonumber(ARGV[4])
end
redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], 2000)
redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[2], 120000)
return 0
