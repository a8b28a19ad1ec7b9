-- Metatables and metamethods, __close, __gc order and __index chains.
--- arithmetic metamethods
local mt = {}
for _, op in ipairs({"add", "sub", "mul", "div", "mod", "pow", "unm", "idiv", "band", "bor", "bxor", "shl", "shr", "bnot", "concat"}) do
  mt["__" .. op] = function(a, b) return op end
end
local v = setmetatable({}, mt)
print(v + 1, 1 - v, v * v, v / 2, v % 2, v ^ 2, -v, v // 2, v & 1, 1 | v, v ~ 1, v << 1, v >> 1, ~v, v .. "x", "x" .. v)
--- __eq only for tables of the same kind
local mt = {__eq = function(a, b) print("eq called") return true end}
local a, b = setmetatable({}, mt), setmetatable({}, mt)
print(a == b, a ~= b, a == 1, rawequal(a, b))
--- __lt and __le
local mt = {__lt = function(a, b) return a.v < b.v end, __le = function(a, b) return a.v <= b.v end}
local a, b = setmetatable({v = 1}, mt), setmetatable({v = 2}, mt)
print(a < b, a > b, a <= b, a >= b, b <= a)
--- __lt without __le
local mt = {__lt = function(a, b) return a.v < b.v end}
local a, b = setmetatable({v = 1}, mt), setmetatable({v = 2}, mt)
print(a < b, pcall(function() return a <= b end))
--- __index chain through tables
local A = {a = "from A"}
local B = setmetatable({b = "from B"}, {__index = A})
local C = setmetatable({c = "from C"}, {__index = B})
local obj = setmetatable({}, {__index = C})
print(obj.a, obj.b, obj.c, obj.d)
--- __index function receives the original table
local proxy
proxy = setmetatable({}, {__index = function(t, k) return t == proxy and k .. "!" end})
print(proxy.hello, proxy[1])
--- __newindex to a table and function
local store = {}
local t = setmetatable({}, {__newindex = store})
t.x = 1
print(rawget(t, "x"), store.x)
local log = {}
local u = setmetatable({}, {__newindex = function(t, k, v) log[#log + 1] = k .. "=" .. tostring(v) rawset(t, k, v) end})
u.a = 1; u.a = 2; u.b = 3
print(table.concat(log, " "), u.a)
--- long __index chains
local base = {deep = "found"}
local t = base
for i = 1, 50 do t = setmetatable({}, {__index = t}) end
print(t.deep)
--- __index loop detection
local t = setmetatable({}, {})
getmetatable(t).__index = t
print(pcall(function() return t.x end))
--- __call with arguments
local callable = setmetatable({}, {__call = function(self, a, b) return "called", a, b end})
print(callable(1, 2))
print(pcall(setmetatable({}, {__call = 1})))
--- __call chains
local inner = setmetatable({}, {__call = function(self, x) return "inner " .. type(x) end})
local outer = setmetatable({}, {__call = inner})
print(pcall(outer, 5))
--- __concat with numbers
local mt = {__concat = function(a, b)
  local x = type(a) == "table" and "T" or tostring(a)
  local y = type(b) == "table" and "T" or tostring(b)
  return x .. y
end}
local t = setmetatable({}, mt)
print(t .. 1, 1 .. t, "a" .. t .. "b", 1 .. 2 .. t)
--- __len
print(#setmetatable({}, {__len = function() return 42 end}), #setmetatable({1, 2}, {}))
--- __unm and __bnot
local t = setmetatable({}, {__unm = function() return "neg" end, __bnot = function() return "not" end})
print(-t, ~t)
--- __tostring and __name
local t = setmetatable({}, {__tostring = function() return "I am t" end})
print(t, tostring(t))
--- __metatable protects
local t = setmetatable({}, {__metatable = false})
print(getmetatable(t), pcall(setmetatable, t, nil))
--- __close runs in reverse order
do
  local a <close> = setmetatable({}, {__close = function() print("close a") end})
  local b <close> = setmetatable({}, {__close = function() print("close b") end})
  local c <close> = nil
  print("body")
end
--- __close receives the error
local ok, err = pcall(function()
  local a <close> = setmetatable({}, {__close = function(_, e) print("closing with", e) end})
  error("the error", 0)
end)
print(ok, err)
--- __close errors replace the original
local ok, err = pcall(function()
  local a <close> = setmetatable({}, {__close = function(_, e) error("from close: " .. tostring(e), 0) end})
  error("original", 0)
end)
print(ok, err)
--- __close on break and return
local function f()
  for i = 1, 3 do
    local x <close> = setmetatable({}, {__close = function() print("closed", i) end})
    if i == 2 then return "returned at 2" end
  end
end
print(f())
--- to-be-closed variable without __close
print(pcall(function() local x <close> = {} end))
print(pcall(function() local x <close> = 42 end))
--- const variables
local ok, msg = load("local x <const> = 1; x = 2")
print(ok, msg)
print(load("local x <foo> = 1"))
--- __gc order is reverse of marking
do
  local order = {}
  for i = 1, 5 do setmetatable({}, {__gc = function() order[#order + 1] = i end}) end
  collectgarbage()
  collectgarbage()
  print(table.concat(order, " "))
end
--- __gc set after setmetatable is not registered
local order = {}
local mt = {}
setmetatable({}, mt)
mt.__gc = function() order[#order + 1] = "late" end
setmetatable({}, {__gc = function() order[#order + 1] = "early" end})
collectgarbage()
print(table.concat(order, " "))
--- __gc resurrects objects
local saved
do setmetatable({name = "zombie"}, {__gc = function(o) saved = o end}) end
collectgarbage()
print(saved and saved.name)
--- __gc errors become warnings
warn("@off")
setmetatable({}, {__gc = function() error("gc error") end})
collectgarbage()
print("survived")
--- __gc runs at state close order
setmetatable({}, {__gc = function() end})
print("ok")
--- weak values
local cache = setmetatable({}, {__mode = "v"})
cache[1] = {}
cache[2] = "string stays"
local keep = {}
cache[3] = keep
collectgarbage()
print(cache[1], cache[2], cache[3] == keep)
--- weak keys
local wk = setmetatable({}, {__mode = "k"})
local k1 = {}
wk[k1] = "kept"
wk[{}] = "dropped"
collectgarbage()
local n = 0
for k, v in pairs(wk) do n = n + 1 end
print(n, wk[k1])
--- ephemeron tables
local e = setmetatable({}, {__mode = "k"})
do local k = {} e[k] = {ref = k} end
collectgarbage()
print(next(e))
--- __idiv and __mod with numbers on the right
local t = setmetatable({}, {__idiv = function(a, b) return "idiv " .. tostring(b) end, __mod = function(a, b) return "mod " .. tostring(b) end})
print(t // 2, t % 3.5)
--- metamethods for strings
print(("abc"):len(), ("10") + 5, getmetatable("").__name)
--- metamethod error messages
print(pcall(function() return {} + 1 end))
print(pcall(function() return #nil end))
print(pcall(function() local t = {} return t.x.y end))
print(pcall(function() return {} < 1 end))
print(pcall(function() return {} .. "" end))
--- inheritance with __index and methods
local Animal = {}
Animal.__index = Animal
function Animal.new(name, sound) return setmetatable({name = name, sound = sound}, Animal) end
function Animal:speak() return self.name .. " says " .. self.sound end
local Dog = setmetatable({}, {__index = Animal})
Dog.__index = Dog
function Dog.new(name) local d = Animal.new(name, "woof") return setmetatable(d, Dog) end
function Dog:fetch() return self.name .. " fetches" end
local d = Dog.new("rex")
print(d:speak(), d:fetch(), getmetatable(d) == Dog)
