-- Append contact events to the events stream, all of them in one atomic step.
-- KEYS[1]  the events stream (sync:events)
-- ARGV[1]  the origin (webhook, import, publish)
-- ARGV[2]  the rules the events were validated by (shared/wire_events.py EVENT_RULES)
-- ARGV[3..] one event each, as ContactEvent JSON
-- Returns the number of entries added.
local stream = KEYS[1]
local origin = ARGV[1]
local rules = ARGV[2]
for i = 3, #ARGV do
  redis.call('XADD', stream, '*', 'event', ARGV[i], 'origin', origin, 'rules', rules)
end
return #ARGV - 2
