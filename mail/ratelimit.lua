-- The mail rate bucket (mail/ratelimit.go): reserve ARGV[3] sends on the
-- GCRA bucket KEYS[1], whose value is the theoretical time of the next send
-- in microseconds; ARGV[1] is the interval between two sends, ARGV[2] the
-- burst. Returns the wait before the sends, in microseconds.
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local n = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then
  tat = now
end
local wait = tat + (n - 1) * interval - (burst - 1) * interval - now
if wait < 0 then
  wait = 0
end
local next = tat + n * interval
-- Kept until the bucket is full again; then it holds nothing.
redis.call('SET', KEYS[1], string.format('%d', next), 'PX', math.floor((next - now) / 1000) + 1000)
return wait
