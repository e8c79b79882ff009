-- Append contact events to the events stream, all of them in one atomic step.
-- KEYS[1]  the events stream (sync:events)
-- ARGV[1]  the origin (webhook, import, publish)
-- ARGV[2]  the rules the events were validated by (shared/wire_events.py EVENT_RULES)
-- ARGV[3]  the name of the compact mirror's field (shared/state/contact_mirror.py MIRROR_FIELD)
-- ARGV[4..] four per event: its ContactEvent JSON, account id, contact id, compact mirror
-- Returns the number of entries added.
local stream = KEYS[1]
local origin = ARGV[1]
local rules = ARGV[2]
local field = ARGV[3]
for i = 4, #ARGV, 4 do
  redis.call('XADD', stream, '*', 'event', ARGV[i], 'origin', origin, 'rules', rules,
             'account', ARGV[i + 1], 'contact', ARGV[i + 2], field, ARGV[i + 3])
end
return (#ARGV - 3) / 4
