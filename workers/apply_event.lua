-- Last-write-wins of contact events of ONE account (all keys share its hash tag).
-- KEYS: 1 contact_times (zset), 2 pending, 3 pending_bulk, 4 contact_facets (hash),
--       5.. the contact key of each event, in order
-- ARGV: 1 the length of the contact keys' common prefix (what follows it is the id), then
--       one per event, in the same order: the compact mirror
--       (shared/state/contact_mirror.py: "<at>|<bulk><deleted>|<facet>\n<payload>")
-- A strictly newer occurred_at replaces the mirror and (re)queues the contact; an equal or
-- older one changes nothing, except that an older change of an ERASED contact (deleted flag
-- '2', shared/state/contact_mirror.py) puts the id back in pending, its score the erasure's
-- time: the next batch counts it `erased` (the change itself is refused, its data never
-- stored). The facet counts follow: the replaced state's facet counted
-- down, the new one up (a deleted contact counts nowhere; a mirror stored before the
-- compact form was never counted). Every key is read once (MGET) and written once (MSET,
-- one ZADD per sorted set) whatever the number of events: a few commands per call, not
-- per event. Returns how many events were applied; an error, having written nothing, if an
-- ARGV is not a compact mirror.
local HEAD = '^([^|{]*)|(%d)(%d)|([^\n]*)'
local from = tonumber(ARGV[1]) + 1
local n = #KEYS - 4
local olds = {}
for start = 5, #KEYS, 1000 do
  local part = redis.call('MGET', unpack(KEYS, start, math.min(start + 999, #KEYS)))
  for j = 1, #part do olds[start - 5 + j] = part[j] end
end
local current = {}   -- key index -> {at, deleted, facet} of its state so far
local written = {}   -- key index -> new value (the newest applied)
local order = {}     -- key indexes in first-written order
local times = {}     -- id -> at of its newest applied event
local bulk = {}      -- id -> '1'/'0' of its newest applied event
local ids = {}       -- ids in first-applied order
local delta = {}     -- facet -> count change
local applied = 0
local refused = {}   -- id -> the erasure's time, for older changes of an erased contact
local first = {}     -- key -> first key index holding it (the same contact twice)
for i = 1, n do
  local key = KEYS[i + 4]
  local slot = first[key] or i
  first[key] = slot
  local state = current[slot]
  if state == nil then
    local old = olds[slot]
    state = {}
    if old then
      local at, _, del, facet = string.match(old, HEAD)
      if at then
        state = {tonumber(at), del, facet, at}
      else
        local score = redis.call('ZSCORE', KEYS[1], string.sub(key, from))
        state = {score and tonumber(score), '1', nil}
      end
    end
    current[slot] = state
  end
  local id, value = string.sub(key, from), ARGV[i + 1]
  local at, isbulk, del, facet = string.match(value, HEAD)
  local when = tonumber(at)
  if when == nil then
    -- not a compact mirror (an entry written by hand): refused before anything is written,
    -- so the collector applies this call's events one by one and dead-letters this one
    return redis.error_reply('event ' .. i .. ' is not a compact mirror')
  end
  if state[1] == nil or when > state[1] then
    if state[2] == '0' and state[3] then
      delta[state[3]] = (delta[state[3]] or 0) - 1
    end
    if del == '0' then
      delta[facet] = (delta[facet] or 0) + 1
    end
    current[slot] = {when, del, facet, at}
    if written[slot] == nil then order[#order + 1] = slot end
    written[slot] = value
    if times[id] == nil then ids[#ids + 1] = id end
    times[id] = at
    bulk[id] = isbulk
    applied = applied + 1
  elseif state[2] == '2' and state[4] then
    refused[id] = state[4]
  end
end
local late = {}
for id, erased_at in pairs(refused) do
  if times[id] == nil then late[#late + 1] = erased_at; late[#late + 1] = id end
end
if #late > 0 then redis.call('ZADD', KEYS[2], unpack(late)) end
if applied == 0 then return 0 end
if redis.call('EXISTS', KEYS[1]) == 0 then
  -- an account new to this release has no mirror stored before the compact form
  redis.call('HSET', KEYS[4], '~ready', 1)
end
local STEP = 1000  -- arguments per command (even: pairs stay together)
local function in_steps(command, key, args)
  for start = 1, #args, STEP do
    local last = math.min(start + STEP - 1, #args)
    if key then
      redis.call(command, key, unpack(args, start, last))
    else
      redis.call(command, unpack(args, start, last))
    end
  end
end
local sets, scores, bulks, plain = {}, {}, {}, {}
for _, slot in ipairs(order) do
  sets[#sets + 1] = KEYS[slot + 4]; sets[#sets + 1] = written[slot]
end
for _, id in ipairs(ids) do
  scores[#scores + 1] = times[id]; scores[#scores + 1] = id
  if bulk[id] == '1' then
    bulks[#bulks + 1] = times[id]; bulks[#bulks + 1] = id
  else
    plain[#plain + 1] = id
  end
end
in_steps('MSET', nil, sets)
in_steps('ZADD', KEYS[1], scores)
in_steps('ZADD', KEYS[2], scores)
in_steps('ZADD', KEYS[3], bulks)
in_steps('ZREM', KEYS[3], plain)
for facet, change in pairs(delta) do
  if change ~= 0 and redis.call('HINCRBY', KEYS[4], facet, change) <= 0 then
    redis.call('HDEL', KEYS[4], facet)
  end
end
return applied
