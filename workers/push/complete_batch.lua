-- Mark the running batch of an account completed (or failed) and free the account.
-- KEYS: 1 state, 2 batch (hash), 3 batch_members, 4 batch_members_bulk, 5 pending,
--       6 pending_bulk
-- ARGV: 1 batch_id, 2 now, 3 report JSON, 4 interval (s), 5 status ('completed'|'failed'),
--       6 seconds to keep the member sets afterwards
-- A failed batch puts its members back into pending (the newest score wins), so nothing
-- is lost. Returns {started_at, size} when done, 0 when this batch is not the running one
-- (a repeated call).
if redis.call('HGET', KEYS[1], 'running') ~= ARGV[1] then
  return 0
end
local now = tonumber(ARGV[2])
if ARGV[5] == 'failed' then
  redis.call('ZUNIONSTORE', KEYS[5], 2, KEYS[5], KEYS[3], 'AGGREGATE', 'MAX')
  if redis.call('EXISTS', KEYS[4]) == 1 then
    redis.call('ZUNIONSTORE', KEYS[6], 2, KEYS[6], KEYS[4], 'AGGREGATE', 'MAX')
  end
end
redis.call('HSET', KEYS[2], 'status', ARGV[5], 'completed_at', ARGV[2], 'report', ARGV[3])
redis.call('HSET', KEYS[1], 'completed_at', ARGV[2], 'next_due',
  tostring(now + tonumber(ARGV[4])), 'last_batch', ARGV[1])
if ARGV[5] == 'completed' then
  redis.call('HSET', KEYS[1], 'last_completed', ARGV[1])
end
redis.call('HDEL', KEYS[1], 'running', 'started_at', 'enqueued_at')
redis.call('EXPIRE', KEYS[3], tonumber(ARGV[6]))
redis.call('EXPIRE', KEYS[4], tonumber(ARGV[6]))
return {redis.call('HGET', KEYS[2], 'started_at') or ARGV[2],
        redis.call('HGET', KEYS[2], 'size') or '0'}
