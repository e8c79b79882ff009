-- Put rejected contacts back into pending, in one step: out of the rejected hash and into
-- the pending set together, so a contact is never in both and never in neither.
-- KEYS[1] rejected (hash)  KEYS[2] pending (zset)
-- ARGV[1] now (epoch s)  ARGV[2..] contact ids; none = every rejected contact
-- A contact already pending keeps its score (ZADD NX). Returns the ids moved.
local ids = {}
if #ARGV > 1 then
    for i = 2, #ARGV do ids[#ids + 1] = ARGV[i] end
else
    ids = redis.call("hkeys", KEYS[1])
end
local moved = {}
for _, id in ipairs(ids) do
    if redis.call("hdel", KEYS[1], id) == 1 then
        redis.call("zadd", KEYS[2], "NX", ARGV[1], id)
        moved[#moved + 1] = id
    end
end
return moved
