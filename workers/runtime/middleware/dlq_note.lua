-- Store a message about to be dead-lettered again with the options of its final failure
-- (error, retries), which Dramatiq's nack does not write; the nack then moves this copy
-- into the dead set. Only if the message is still there.
-- KEYS[1] the queue's messages (hash)  ARGV[1] message id  ARGV[2] encoded message
if redis.call("hexists", KEYS[1], ARGV[1]) == 1 then
    redis.call("hset", KEYS[1], ARGV[1], ARGV[2])
    return 1
end
return 0
