-- Lua's own C-stack limit (LUAI_MAXCCALLS = 200): deep nesting through C
-- raises the catchable "C stack overflow" (the guest's stack is sized so Lua
-- gets there before the wasm stack runs out).
--- nested gsub callbacks
local function deep(n) if n == 0 then return "x" end return (("a"):gsub("a", function() return deep(n - 1) end)) end
print(pcall(deep, 150))
local ok, err = pcall(deep, 300)
print(ok, err)
--- nested pcall
local function p(n) if n == 0 then return "bottom" end return select(2, pcall(p, n - 1)) end
print(p(150))
local depth = 0
local function q() depth = depth + 1 local ok, e = pcall(q) if not ok then error(e, 0) end end
print(pcall(q))
print(depth > 150, depth <= 200)
--- nested parser levels
print(load("return " .. string.rep("(", 150) .. "1" .. string.rep(")", 150))())
-- inside pcall: a parser error runs the message handler of the pcall around
-- load, which differs between the two harnesses
print(pcall(load, "return " .. string.rep("(", 300) .. "1" .. string.rep(")", 300)))
--- nested table constructors in the parser
print(pcall(load, "return " .. string.rep("{", 300) .. string.rep("}", 300)))
--- nested metamethod calls
local mt = {}
mt.__index = function(t, k) if k == 0 then return "end" end return setmetatable({}, mt)[k - 1] end
local t = setmetatable({}, mt)
print(t[100])
print(pcall(function() return t[300] end))
--- nested tostring through __tostring
local mt = {}
mt.__tostring = function(o) if o.n == 0 then return "0" end return tostring(setmetatable({n = o.n - 1}, mt)) end
print(tostring(setmetatable({n = 100}, mt)))
print(pcall(tostring, setmetatable({n = 300}, mt)))
--- nested coroutine resumes
local function nest(n) if n == 0 then return 0 end local co = coroutine.wrap(nest) return co(n - 1) + 1 end
print(nest(150))
-- the message nests one "stdin:1:" per level: compare the outcome, not the
-- depth the harness started at
local ok, err = pcall(nest, 300)
print(ok, (err:gsub("stdin:1: ", "")))
--- nested string.rep inside sort comparators
local function sorter(n) if n == 0 then return 1 end local r table.sort({2, 1}, function(a, b) r = sorter(n - 1) return a < b end) return r end
print(sorter(50))
print(pcall(sorter, 300))
