-- Mark one chunk done and add its counts to the batch, exactly once.
-- KEYS: 1 chunk hash, 2 batch hash
-- ARGV: pairs of (batch count field, amount)
-- Returns {chunks done, chunks total}.
-- A chunk whose record is gone (its account was forgotten while the chunk's step ran)
-- counts nothing and recreates nothing: {0, 1}, so the batch is not completed either.
if redis.call('EXISTS', KEYS[1]) == 0 then
  return {0, 1}
end
if redis.call('HGET', KEYS[1], 'status') ~= 'done' then
  redis.call('HSET', KEYS[1], 'status', 'done')
  -- the request body is kept until here, so a cancelled or stuck job can be re-submitted
  redis.call('HDEL', KEYS[1], 'payload')
  for i = 1, #ARGV, 2 do
    redis.call('HINCRBY', KEYS[2], ARGV[i], tonumber(ARGV[i + 1]))
  end
  redis.call('HINCRBY', KEYS[2], 'chunks_done', 1)
end
return {tonumber(redis.call('HGET', KEYS[2], 'chunks_done') or '0'),
        tonumber(redis.call('HGET', KEYS[2], 'chunks_total') or '0')}
