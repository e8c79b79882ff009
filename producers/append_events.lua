-- Append contact events to the events stream, all of them in one atomic step.
-- KEYS[1]  the events stream (sync:events)
-- ARGV[1]  the origin (webhook, import, publish)
-- ARGV[2..] one event each, as ContactEvent JSON
-- Returns the number of entries added.
local stream = KEYS[1]
local origin = ARGV[1]
for i = 2, #ARGV do
  redis.call('XADD', stream, '*', 'event', ARGV[i], 'origin', origin)
end
return #ARGV - 1
