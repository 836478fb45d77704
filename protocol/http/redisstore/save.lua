-- Applies one request's change to a session hash, atomically.
-- KEYS[1]: the session's key.
-- ARGV: flush ("1": drop every value first), expiry (Unix ms, for
-- PEXPIREAT), the size limit in bytes (0: none), created and expires
-- (Unix ns, kept in fields c and e), the number of fields to delete, those
-- fields, then field-value pairs to set.
local key = KEYS[1]
local cur = {}
if ARGV[1] ~= '1' then
  local all = redis.call('HGETALL', key)
  for i = 1, #all, 2 do cur[all[i]] = all[i + 1] end
end
local created = cur['c'] or ARGV[4]
local nd = tonumber(ARGV[6])
for i = 7, 6 + nd do cur[ARGV[i]] = nil end
local i = 7 + nd
while i < #ARGV do
  cur[ARGV[i]] = ARGV[i + 1]
  i = i + 2
end
cur['c'] = created
cur['e'] = ARGV[5]
local size, flat = 0, {}
for k, v in pairs(cur) do
  size = size + #k + #v
  flat[#flat + 1] = k
  flat[#flat + 1] = v
end
local max = tonumber(ARGV[3])
if max > 0 and size > max then
  return redis.error_reply('session too large')
end
redis.call('DEL', key)
for j = 1, #flat, 2000 do
  redis.call('HSET', key, unpack(flat, j, math.min(j + 1999, #flat)))
end
redis.call('PEXPIREAT', key, ARGV[2])
return size
