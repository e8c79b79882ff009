-- One membership change of a Klaviyo list, published at most once.
-- KEYS[1] list members set, KEYS[2] subscribers stream
-- ARGV[1] "add" | "remove", ARGV[2] profile id, ARGV[3] stream MAXLEN (approximate),
-- ARGV[4..] the stream entry's field/value pairs.
-- The set decides: a profile already known (add) or not known (remove) publishes nothing,
-- so two pulls reading the same member can never publish it twice.
local changed
if ARGV[1] == "add" then
  changed = redis.call("SADD", KEYS[1], ARGV[2])
else
  changed = redis.call("SREM", KEYS[1], ARGV[2])
end
if changed == 0 then
  return false
end
local fields = {}
for i = 4, #ARGV do
  fields[#fields + 1] = ARGV[i]
end
return redis.call("XADD", KEYS[2], "MAXLEN", "~", ARGV[3], "*", unpack(fields))
