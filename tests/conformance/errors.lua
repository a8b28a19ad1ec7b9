-- Error messages with positions, as the runtime reports them.
--- calling nil names the variable
print(pcall(function() undefined_global() end))
print(pcall(function() local t = {} t.method() end))
print(pcall(function() local t = {} t:method() end))
print(pcall(function() local f; f() end))
--- indexing nil names the variable
print(pcall(function() local t; return t.x end))
print(pcall(function() return undefined_table.x end))
print(pcall(function() local t = {} return t.a.b end))
print(pcall(function() local s = "x" return s.y.z end))
--- upvalue names in messages
local up
print(pcall(function() return up.field end))
--- arithmetic on bad values names them
print(pcall(function() local t = {} return t.x + 1 end))
print(pcall(function() return "a" + 1 end))
print(pcall(function() local b = true return -b end))
print(pcall(function() return #5 end))
--- comparison errors
print(pcall(function() return 1 < "x" end))
print(pcall(function() return {} <= {} end))
print(pcall(function() return nil > 1 end))
--- concatenation errors
print(pcall(function() return "a" .. {} end))
print(pcall(function() local t = {} return t.x .. "a" end))
print(pcall(function() return 1 .. nil end))
--- for loop errors
print(pcall(function() for i = "a", 2 do end end))
print(pcall(function() for i = 1, {} do end end))
print(pcall(function() for i = 1, 2, "x" do end end))
--- bad argument messages from the libraries
print(pcall(string.rep))
print(pcall(string.sub))
print(pcall(("x").rep, "x", "y"))
print(pcall(math.floor, {}))
print(pcall(table.concat, 1))
print(pcall(setmetatable, {}, 1))
print(pcall(ipairs))
--- bad argument in methods names self
print(pcall(function() return ("x"):rep({}) end))
print(pcall(function() local s = "abc" return s:sub({}) end))
--- syntax error messages
print(load("x = = 1", "=src"))
print(load("local function end", "=src"))
print(load("for i = 1 do end", "=src"))
print(load("x = 'unfinished", "=src"))
print(load("x = [[unfinished", "=src"))
print(load("return 1 +", "=src"))
--- syntax errors about escapes and numbers
print(load("return '\\400'", "=src"))
print(load("return '\\u{110000000}'", "=src"))
print(load("return 3x", "=src"))
print(load("return 0x", "=src"))
print(load("return 1e", "=src"))
--- syntax error line numbers
print(load("local a = 1\nlocal b = 2\nlocal c = = 3", "=lines"))
print(load("\n\n\n\nreturn @", "=lines"))
--- runtime error line numbers across lines
local f = load("local a = 1\nlocal b = nil\nreturn a +\n  b", "=multi")
print(pcall(f))
--- error objects with levels in nested functions
local function lvl3() error("deep", 3) end
local function lvl2() lvl3() end
local function lvl1() lvl2() end
print(pcall(lvl1))
--- error with tables keeps identity
local e = {}
local ok, got = pcall(error, e)
print(ok, got == e)
--- errors in __index functions
local t = setmetatable({}, {__index = function(t, k) error("no key " .. k) end})
print(pcall(function() return t.missing end))
--- stack overflow in Lua recursion is catchable
local function rec() return 1 + rec() end
local ok, msg = pcall(rec)
print(ok, (msg:gsub("^.-:%d+: ", "")))
--- error in error handler
print(xpcall(function() error("first") end, function() error("second") end))
--- tostring of error with integer and float
print(pcall(error, 1), pcall(error, 1.5))
--- attempt to call a table field through a method name
local obj = {}
print(pcall(function() obj:missing_method() end))
print(pcall(function() string.nofunc() end))
--- integer overflow in for loop step
print(pcall(function() for i = 1, 2, 1.5 do end return "ok" end))
print(pcall(string.format, "%d", 2^63))
--- number has no integer representation
print(pcall(function() return 1.5 | 0 end))
print(pcall(function() return ("x"):rep(1.5) end))
print(pcall(function() return ({})[1] .. 1 end))
--- too many arguments to unpack
print(pcall(table.unpack, {}, 1, 1 << 40))
--- both arguments of math.fmod invalid [differs: c-argument-order]
print(pcall(math.fmod, "x", {}))
--- one invalid argument of math.fmod is named the same everywhere
print(pcall(math.fmod, 1, {}))
print(pcall(math.fmod, {}, 1))
