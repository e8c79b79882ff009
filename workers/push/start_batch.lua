-- Move an account's pending contacts into a new batch, atomically, unless one is running.
-- KEYS: 1 state, 2 pending, 3 pending_bulk, 4 batch_members, 5 batch_members_bulk,
--       6 batch (hash), 7 batches (list)
-- ARGV: 1 batch_id, 2 now (epoch s)
-- (The history list is trimmed when a batch ends: workers/push/lifecycle.py _retire.)
-- Returns the number of contacts in the batch; 0 = nothing started.
local running = redis.call('HGET', KEYS[1], 'running')
if running and running ~= '' then
  return 0
end
local size = redis.call('ZCARD', KEYS[2])
if size == 0 then
  return 0
end
if redis.call('EXISTS', KEYS[4]) == 1 or redis.call('EXISTS', KEYS[6]) == 1 then
  return redis.error_reply('batch id already used: ' .. ARGV[1])
end
redis.call('RENAME', KEYS[2], KEYS[4])
if redis.call('EXISTS', KEYS[3]) == 1 then
  redis.call('RENAME', KEYS[3], KEYS[5])
end
local bulk = redis.call('ZCARD', KEYS[5])
redis.call('HSET', KEYS[6], 'status', 'running', 'started_at', ARGV[2], 'size', size,
  'bulk', bulk)
redis.call('HSET', KEYS[1], 'running', ARGV[1], 'started_at', ARGV[2])
redis.call('HDEL', KEYS[1], 'force', 'enqueued_at')
redis.call('LPUSH', KEYS[7], ARGV[1])
return size
