-- Rewrite ONE mirror stored before the compact form, and count it into the facets.
-- KEYS: 1 contact_facets (hash), 2 the contact key
-- ARGV: 1 the old stored value (as read), 2 its compact form, 3 its facet ('' if deleted)
-- Only if the key still holds exactly ARGV[1] (a collector may have replaced it since:
-- then the new state is compact and counted already). Returns 1 if rewritten.
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[2])
if ARGV[3] ~= '' then redis.call('HINCRBY', KEYS[1], ARGV[3], 1) end
return 1
