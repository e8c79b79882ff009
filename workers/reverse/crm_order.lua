-- Per-member order of CRM deliveries: one member's entries reach the CRM in stream order.
-- KEYS[1] the member's queue (list of undelivered entry ids, oldest first; the head is the
--         one being delivered), KEYS[2] the member's newest settled entry id (string),
-- KEYS[3] the account's delivered set (zset: entry id -> when the CRM accepted it)
-- ARGV[1] "join" | "turn" | "settle", ARGV[2] entry id,
-- settle only: ARGV[3] now (epoch s), ARGV[4] seconds to keep KEYS[2] and KEYS[3] records,
--              ARGV[5] "1" when the CRM accepted the entry, ARGV[6] "1" to hand the head
--              over again even when the entry had left the queue (an entry found already
--              delivered: the settle that delivered it may have failed to send the next).
--
-- join   (hand-over) -> 1: send a message for the entry now (it is the member's head);
--                       0: do not (it waits behind an earlier entry, or is settled already)
-- turn   (delivery)  -> "already" (the CRM accepted it before) | "go" | "wait" (an earlier entry of the member is undelivered; the
--                       earlier one's settle sends this one) | "superseded" (a later entry
--                       of the member was settled: delivering this one would undo it)
-- settle (delivery)  -> the id of the member's next entry to send, or false
local queue, last_key, delivered = KEYS[1], KEYS[2], KEYS[3]
local op, entry = ARGV[1], ARGV[2]

local function before(a, b) -- stream id a < stream id b
  local a_ms, a_seq = string.match(a, "^(%d+)-(%d+)$")
  local b_ms, b_seq = string.match(b, "^(%d+)-(%d+)$")
  if not a_ms or not b_ms then
    return a < b
  end
  a_ms, b_ms = tonumber(a_ms), tonumber(b_ms)
  if a_ms ~= b_ms then
    return a_ms < b_ms
  end
  return tonumber(a_seq) < tonumber(b_seq)
end

local last = redis.call("GET", last_key)

if op == "join" then
  if redis.call("ZSCORE", delivered, entry) then
    return 0
  end
  if last and not before(last, entry) then
    return 0
  end
  local position = redis.call("LPOS", queue, entry)
  if position then
    return position == 0 and 1 or 0
  end
  return redis.call("RPUSH", queue, entry) == 1 and 1 or 0
end

if op == "turn" then
  if redis.call("ZSCORE", delivered, entry) then
    return "already"
  end
  if last and before(entry, last) then
    return "superseded"
  end
  local head = redis.call("LINDEX", queue, 0)
  if head == entry then
    return "go"
  end
  if not head then
    redis.call("RPUSH", queue, entry)
    return "go"
  end
  if not redis.call("LPOS", queue, entry) then
    redis.call("RPUSH", queue, entry)
  end
  return "wait"
end

-- settle: delivered, given up, gone from the stream or superseded
local now, keep = tonumber(ARGV[3]), tonumber(ARGV[4])
if ARGV[5] == "1" then
  redis.call("ZADD", delivered, now, entry)
  redis.call("ZREMRANGEBYSCORE", delivered, "-inf", now - keep)
end
if not last or before(last, entry) then
  redis.call("SET", last_key, entry, "EX", math.floor(keep))
end
local head = redis.call("LINDEX", queue, 0)
local removed = redis.call("LREM", queue, 1, entry)
if head == entry or (removed == 0 and ARGV[6] == "1") then
  -- a duplicate message for the head is harmless: the delivered set stops a second POST
  return redis.call("LINDEX", queue, 0)
end
return false
