-- Last-write-wins of contact events of ONE account (all keys share its hash tag).
-- KEYS: 1 contact_index (set), 2 contact_times (zset), 3 pending, 4 pending_bulk,
--       5.. the contact key of each event, in order
-- ARGV: four per event, in the same order: contact id, occurred_at (epoch s),
--       bulk ('1' for import/resync, else '0'), MirroredContact JSON
-- A strictly newer occurred_at replaces the mirror and (re)queues the contact; an equal or
-- older one changes nothing. Returns how many events were applied.
local applied = 0
for i = 5, #KEYS do
  local base = (i - 5) * 4
  local id = ARGV[base + 1]
  local at = ARGV[base + 2]
  local old = redis.call('ZSCORE', KEYS[2], id)
  if (not old) or tonumber(at) > tonumber(old) then
    redis.call('SET', KEYS[i], ARGV[base + 4])
    redis.call('SADD', KEYS[1], id)
    redis.call('ZADD', KEYS[2], at, id)
    redis.call('ZADD', KEYS[3], at, id)
    if ARGV[base + 3] == '1' then
      redis.call('ZADD', KEYS[4], at, id)
    else
      redis.call('ZREM', KEYS[4], id)
    end
    applied = applied + 1
  end
end
return applied
