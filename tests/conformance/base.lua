-- Base library: every function except dofile/loadfile (absent from the sandbox).
-- Each snippet starts with a line "--- name" and runs in a fresh state.
--- assert passes values through
print(assert(1, "unused", 3))
print(select("#", assert(true, nil, nil)))
--- assert failure with message
print(pcall(assert, false, "custom message"))
print(pcall(assert, nil))
print(select("#", pcall(assert, false, {1})), type(select(2, pcall(assert, false, {1}))))
--- assert with no arguments
print(pcall(assert))
--- error with levels
local function f() error("lvl1") end
local function g() error("lvl2", 2) end
local function h() g() end
print(pcall(f))
print(pcall(h))
print(pcall(error, "nolevel", 0))
--- error with non-string values
print(pcall(error, 42))
print(pcall(error, nil))
local t = setmetatable({}, {__tostring = function() return "T!" end})
local ok, e = pcall(error, t)
print(ok, e == t, tostring(e))
--- getmetatable and __metatable
print(getmetatable("abc").__index == string)
local t = setmetatable({}, {__metatable = "locked"})
print(getmetatable(t))
print(pcall(setmetatable, t, {}))
print(getmetatable({}), getmetatable(1))
--- ipairs stops at the first nil
local t = {1, 2, nil, 4}
for i, v in ipairs(t) do print(i, v) end
--- ipairs respects __index
local t = setmetatable({}, {__index = function(_, i) if i <= 3 then return i * 10 end end})
for i, v in ipairs(t) do print(i, v) end
--- load from a string
local f = load("return 1 + ...")
print(f(41))
print(load("syntax error here"))
print(load("return x", "=mychunk", "t", {x = "env x"})())
--- load from a function of pieces
local parts = {"return ", "'pie", "ces'"}
local i = 0
print(load(function() i = i + 1 return parts[i] end)())
--- load with bad chunk name and runtime error position
local f = load("local a = nil; return a.b", "@virtual.lua")
print(pcall(f))
--- load rejects non-text mode
print(load("return 1", "x", "b"))
--- next over a table in a stable way
local t = {10, 20, 30}
print(next({}))
local k, v = next(t)
print(k, v)
print(next(t, 3))
print(pcall(next, t, "nokey"))
--- pairs with __pairs
local t = setmetatable({}, {__pairs = function(t) return function(_, k) if not k then return 1, "one" end end, t, nil end})
for k, v in pairs(t) do print(k, v) end
--- pairs over an array in order
local t = {"a", "b", "c"}
local n = 0
for k, v in pairs(t) do n = n + 1 end
print(n)
--- pcall returns all results
print(pcall(function(...) return ... end, 1, nil, 3))
print(pcall(pcall, error, "x"))
--- rawequal rawget rawset rawlen
local mt = {__eq = function() return true end, __index = function() return "idx" end, __newindex = function() error("no") end, __len = function() return 99 end}
local a, b = setmetatable({}, mt), setmetatable({}, mt)
print(a == b, rawequal(a, b), rawequal(a, a))
print(a.x, rawget(a, "x"))
rawset(a, "x", 5)
print(a.x, #a, rawlen(a), rawlen("abcd"))
print(pcall(rawlen, 5))
--- select with negative indices
print(select(-1, "a", "b", "c"))
print(select(2, "a", "b", "c"))
print(select("#"))
print(pcall(select, 0, 1))
--- setmetatable returns its table and accepts nil
local t = {}
print(setmetatable(t, nil) == t)
print(pcall(setmetatable, 1, {}))
--- tonumber with strings
print(tonumber("10"), tonumber("  0x1F  "), tonumber("1e2"), tonumber(".5"), tonumber("5."))
print(tonumber("abc"), tonumber(""), tonumber(" "), tonumber("1 2"), tonumber("0x"))
print(tonumber("inf"), tonumber("nan"), tonumber("1e"), tonumber("- 1"))
--- tonumber with a base
print(tonumber("ff", 16), tonumber("FF", 16), tonumber("777", 8), tonumber("zz", 36), tonumber("102", 2))
print(tonumber("  11  ", 2), tonumber("-ff", 16), tonumber("8", 8))
print(pcall(tonumber, "1", 1), pcall(tonumber, "1", 37))
--- tonumber of non-strings
print(tonumber(12), tonumber(1.5), tonumber(nil), tonumber({}), tonumber(true))
--- tostring of basic values
print(tostring(nil), tostring(true), tostring(false), tostring(12), tostring(-0.0), tostring(1e100))
--- tostring with __tostring and __name
local t = setmetatable({}, {__tostring = function() return "custom" end})
print(tostring(t))
local u = setmetatable({}, {__name = "MyType"})
print((tostring(u):gsub("0x%x+", "ADDR"):gsub(": [%x]+$", ": ADDR")))
print(pcall(tostring, setmetatable({}, {__tostring = function() return 1 end})))
--- type of every kind
print(type(nil), type(1), type("s"), type({}), type(print), type(true), type(coroutine.create(print)))
print(pcall(type))
--- xpcall with a handler and arguments
print(xpcall(function(a, b) return a + b end, debug and print or print, 2, 3))
print(xpcall(function() error("oops") end, function(m) return "handled: " .. m end))
print(xpcall(function() error({code = 7}) end, function(e) return e.code end))
--- xpcall handler receiving a runtime error
print(xpcall(function() local x = nil; return x.y end, function(m) return (m:gsub("^.-:%d+: ", "")) end))
--- _G and _VERSION
print(_G._G == _G, _VERSION)
print(_G.print == print)
--- collectgarbage options
print(collectgarbage("isrunning"))
print(type(collectgarbage("count")))
print(collectgarbage("step", 0) ~= nil)
print(collectgarbage())
print(pcall(collectgarbage, "bogus"))
--- collectgarbage stop and restart
collectgarbage("stop")
print(collectgarbage("isrunning"))
collectgarbage("restart")
print(collectgarbage("isrunning"))
--- collectgarbage mode switch
print(collectgarbage("incremental"))
print(collectgarbage("generational"))
print(collectgarbage("generational"))
--- print calls __tostring and __name
local t = setmetatable({}, {__tostring = function(s) return "<obj>" end})
print(t, 1, nil, "x")
--- warn does not print to stdout
warn("@on")
warn("to ", "stderr")
print("after warn")
--- string coercion in concatenation
print(1 .. "", 1.0 .. "", -0.0 .. "", 2^63 .. "", 10 // 3 .. "")
--- select passes through many values
local t = {}
for i = 1, 250 do t[i] = i end
print(select("#", table.unpack(t)), select(250, table.unpack(t)))
