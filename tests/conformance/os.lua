-- os.time, os.date, os.difftime and os.clock (the sandbox's os subset),
-- in UTC so the output is the same on every machine.
--- date in UTC of a fixed time
print(os.date("!%Y-%m-%d %H:%M:%S", 0), os.date("!%Y-%m-%d %H:%M:%S", 1700000000))
--- date table in UTC
local t = os.date("!*t", 1234567890)
print(t.year, t.month, t.day, t.hour, t.min, t.sec, t.wday, t.yday, t.isdst)
--- date formats
print(os.date("!%A %a %B %b %d %j %p %y %%", 86400 * 45))
print(os.date("!%H:%M", 3600 * 13 + 60 * 7), os.date("!%I %w %u", 3600 * 15))
--- date rejects invalid conversions
print(pcall(os.date, "%Ez", 0))
print(pcall(os.date, "%Q", 0))
--- time of a table is consistent with difftime
local a = os.time({year = 2024, month = 1, day = 10, hour = 12})
local b = os.time({year = 2024, month = 1, day = 11, hour = 12})
print(b - a, os.difftime(b, a), math.type(os.difftime(b, a)))
--- time normalises fields
local a = os.time({year = 2024, month = 1, day = 31, hour = 12})
local b = os.time({year = 2024, month = 1, day = 32, hour = 12})
local c = os.time({year = 2024, month = 2, day = 1, hour = 12})
print(b == c, c - a)
--- time rejects missing fields
print(pcall(os.time, {year = 2024}))
print(pcall(os.time, {year = 2024, month = 1, day = "x"}))
--- time returns integers
print(math.type(os.time()), os.time() > 1700000000)
--- difftime with one argument and errors
print(pcall(os.difftime, 10))
print(os.difftime(10, 4), pcall(os.difftime))
--- clock is a non-negative float
local c = os.clock()
print(math.type(c), c >= 0)
--- date with large years
print(os.date("!%Y", 2^40 // 1) ~= nil, pcall(os.date, "!%Y", 2^60 // 1))
--- date round trip of "*t"
local t = os.date("!*t", 951782400)
print(t.year, t.month, t.day, t.yday)
