-- Replay one dead-lettered Dramatiq message: out of the dead set and onto its live queue
-- in one step, so it is never both dead and live, and never neither.
-- KEYS[1] dead set (zset)  KEYS[2] dead messages (hash)
-- KEYS[3] live queue (list)  KEYS[4] live messages (hash)
-- ARGV[1] message id  ARGV[2] the message to enqueue (age reset, retries cleared)
-- Returns 1 when replayed, 0 when it was no longer dead (replayed or purged meanwhile).
if redis.call("zrem", KEYS[1], ARGV[1]) == 0 then
    return 0
end
redis.call("hdel", KEYS[2], ARGV[1])
redis.call("hset", KEYS[4], ARGV[1], ARGV[2])
redis.call("rpush", KEYS[3], ARGV[1])
return 1
