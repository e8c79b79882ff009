-- The consent the sync last knew per contact, and the consent.changed entries it publishes.
-- KEYS[1] the ledger (hash: normalised email -> JSON {"c": [contact ids], "t": first sent
--         epoch s, "e": email key, "s": sms key}), KEYS[2] the subscribers stream.
-- A key is "<consent>:<reason>" (klaviyo_state.ChannelState.key); absent = never seen.
--
-- ARGV[1] "sent": the push side sends these contacts (and sets what it itself did, so a
--   pull never reports the sync's own subscribe or unsubscribe back). ARGV[2] now (epoch s),
--   then groups of 4: email, contact id, email key or "", sms key or "" ("" keeps it).
--   Returns 1 when the ledger was empty before (the account's consent pulls start), else 0.
-- ARGV[1] "seen": a pull read one profile. ARGV[2] email, ARGV[3] stream MAXLEN,
--   ARGV[4] channel count n, then n groups of 7: channel, ledger field ("e"|"s"), key,
--   consent, reason, occurred_at ISO, occurred epoch ("" = unknown); then the entry's common
--   field/value pairs. A profile the CRM never sent publishes nothing. A channel whose key
--   changed is stored and, unless it became "unknown", published once per contact; a
--   channel seen for the first time is published only when the change happened after the
--   contact was first sent (older state is Klaviyo's history, not news). Returns how many
--   entries were published.
-- ARGV[1] "drop": these contacts no longer have these emails (an email change, an
--   erasure). ARGV[2..] pairs: email, contact id. The contact leaves the email's record;
--   the record goes with its last contact, so no old email stays. Returns 0.
local ledger, stream = KEYS[1], KEYS[2]

if ARGV[1] == "drop" then
  for i = 2, #ARGV, 2 do
    local email, contact = ARGV[i], ARGV[i + 1]
    local raw = redis.call("HGET", ledger, email)
    if raw then
      local rec = cjson.decode(raw)
      local kept = {}
      for _, id in ipairs(rec.c) do
        if id ~= contact then kept[#kept + 1] = id end
      end
      if #kept == 0 then
        redis.call("HDEL", ledger, email)
      else
        rec.c = kept
        redis.call("HSET", ledger, email, cjson.encode(rec))
      end
    end
  end
  return 0
end

if ARGV[1] == "sent" then
  local now = tonumber(ARGV[2])
  local fresh = redis.call("EXISTS", ledger) == 0
  for i = 3, #ARGV, 4 do
    local email, contact = ARGV[i], ARGV[i + 1]
    local raw = redis.call("HGET", ledger, email)
    local rec = raw and cjson.decode(raw) or {c = {}, t = now}
    local known = false
    for _, id in ipairs(rec.c) do
      if id == contact then known = true end
    end
    if not known then table.insert(rec.c, contact) end
    if ARGV[i + 2] ~= "" then rec.e = ARGV[i + 2] end
    if ARGV[i + 3] ~= "" then rec.s = ARGV[i + 3] end
    redis.call("HSET", ledger, email, cjson.encode(rec))
  end
  return fresh and 1 or 0
end

local email, maxlen, n = ARGV[2], ARGV[3], tonumber(ARGV[4])
local raw = redis.call("HGET", ledger, email)
if not raw then
  return 0
end
local rec = cjson.decode(raw)
local common = {}
for i = 5 + 7 * n, #ARGV do
  common[#common + 1] = ARGV[i]
end
local published, changed = 0, false
for c = 0, n - 1 do
  local base = 5 + 7 * c
  local channel, field, key = ARGV[base], ARGV[base + 1], ARGV[base + 2]
  local consent, reason, occurred = ARGV[base + 3], ARGV[base + 4], ARGV[base + 5]
  local occurred_epoch = tonumber(ARGV[base + 6])
  local old = rec[field]
  if old ~= key then
    rec[field] = key
    changed = true
    local news = consent ~= "unknown"
    if news and old == nil then
      news = occurred_epoch ~= nil and occurred_epoch >= tonumber(rec.t)
    end
    if news then
      for _, contact in ipairs(rec.c) do
        local fields = {"type", "consent.changed", "contact_id", contact,
                        "list_id", "consent:" .. channel, "channel", channel,
                        "consent", consent, "reason", reason, "occurred_at", occurred}
        for _, value in ipairs(common) do
          fields[#fields + 1] = value
        end
        redis.call("XADD", stream, "MAXLEN", "~", maxlen, "*", unpack(fields))
        published = published + 1
      end
    end
  end
end
if changed then
  redis.call("HSET", ledger, email, cjson.encode(rec))
end
return published
