-- Store a dead-lettered message again with the options of its final failure (error,
-- retries), which Dramatiq's nack does not write. Only if it is still dead.
-- KEYS[1] dead messages (hash)  ARGV[1] message id  ARGV[2] encoded message
if redis.call("hexists", KEYS[1], ARGV[1]) == 1 then
    redis.call("hset", KEYS[1], ARGV[1], ARGV[2])
    return 1
end
return 0
