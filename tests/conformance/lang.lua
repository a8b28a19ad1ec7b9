-- The language: goto, closures, varargs, scoping, loops, assignments.
--- goto continue
for i = 1, 5 do
  if i % 2 == 0 then goto continue end
  io.write(i, " ")
  ::continue::
end
print()
--- goto backwards as a loop
local i = 1
::top::
if i <= 3 then io.write(i, ";") i = i + 1 goto top end
print()
--- goto out of nested loops
for i = 1, 3 do
  for j = 1, 3 do
    if i * j == 4 then goto done end
  end
end
::done::
print("escaped")
--- goto errors
print(load("goto nowhere"))
print(load("do local x ::l1:: end goto l1"))
print(load("::a:: ::a::"))
print(load("goto f; local x; ::f:: print(x)"))
--- closures capture fresh locals per iteration
local fs = {}
for i = 1, 3 do fs[i] = function() return i end end
print(fs[1](), fs[2](), fs[3]())
--- shared upvalues
local function counter()
  local n = 0
  return function() n = n + 1 return n end, function() return n end
end
local inc, get = counter()
inc(); inc()
print(get())
--- varargs
local function f(...)
  local a, b = ...
  return select("#", ...), a, b, ...
end
print(f())
print(f(nil, nil))
print(f(1, 2, 3))
--- table.pack and varargs with nils
local function g(...) local t = {...} return #t, select("#", ...) end
print(g(1, nil, 3))
--- multiple assignment evaluation order
local a, b, c = 1
print(a, b, c)
local x, y = 1, 2, 3
print(x, y)
local t = {}
local i = 1
i, t[i] = i + 1, 20
print(i, t[1], t[2])
--- swap
local a, b = 1, 2
a, b = b, a
print(a, b)
--- numeric for does not leak the variable
local i = "outer"
for i = 1, 2 do end
print(i)
--- while and repeat with scoping
local n = 0
repeat local k = n n = n + 1 until k >= 3
print(n)
while true do n = n - 1 if n < 0 then break end end
print(n)
--- nested functions and recursion
local function fact(n) if n <= 1 then return 1 end return n * fact(n - 1) end
print(fact(20), fact(21), fact(25.0))
--- tail calls do not grow the stack
local function loop(n) if n == 0 then return "done" end return loop(n - 1) end
print(loop(100000))
--- string keys and integer keys are different
local t = {}
t[1] = "int"; t["1"] = "str"; t[1.0] = "float replaces int"
print(t[1], t["1"])
--- integer keys normalisation of floats
local t = {[2^53] = "big"}
print(t[2^53], t[math.tointeger(2^53)])
--- NaN and nil keys
print(pcall(function() local t = {} t[0/0] = 1 end))
print(pcall(function() local t = {} t[nil] = 1 end))
print(({})[0/0], ({})[nil])
--- operator precedence
print(2 + 3 * 4 ^ 2 / 2, -2 ^ 2, not 1 == 2, 1 .. 2 == "12", 2 ^ 3 ^ 2, -3 % 5, (2 + 3) * 4)
print(1 < 2 == true, "a" .. "b" == "ab" and 1 or 2, 5 // 2 * 2, 1 << 2 + 1, 7 & 3 | 8, 1 | 2 ~ 3 & 4)
--- and or short circuit
print(nil or "default", false and error("never"), 1 and 2, nil and 1, false or nil, 0 or 1)
--- long comments and nested strings
--[==[ a comment with ]] inside ]==]
print([[a]] .. [=[b]]c]=])
--- semicolons and empty statements
;;; local x = 1; ; print(x);
--- method call syntax sugar
local obj = {v = 5}
function obj:get(d) return self.v + (d or 0) end
function obj.static(x) return x end
print(obj:get(), obj:get(1), obj.get(obj, 2), obj.static(3))
--- string call syntax
local function id(x) return x end
print(id"hello", id[[long]], #id{1, 2, 3})
--- integer division of loop variables
local s = 0
for i = 10, 1, -3 do s = s + i end
print(s)
--- local function recursion scope
local function even(n) if n == 0 then return true end local function odd(m) return not even(m) end return odd(n - 1) end
print(even(10), even(7))
--- global variables through _ENV
x_global = 5
print(_ENV.x_global, _G.x_global)
local function with_env() local _ENV = {print = print} print(x_global) end
with_env()
--- _ENV as a parameter
local function sandboxed(_ENV) return a + b end
print(sandboxed({a = 1, b = 2}))
--- load with custom env sees only it
local env = {tostring = tostring}
local f = load("y = 10; return tostring(print)", "chunk", "t", env)
print(f(), env.y, y)
--- deeply nested data structures
local t = {}
local cur = t
for i = 1, 100 do cur.next = {i = i} cur = cur.next end
local n, c = 0, t.next
while c do n = n + c.i c = c.next end
print(n)
--- many local variables
local src = {}
for i = 1, 199 do src[#src + 1] = "local v" .. i .. " = " .. i end
src[#src + 1] = "return v1 + v199"
print(load(table.concat(src, "\n"))())
--- too many local variables
local src = {}
for i = 1, 201 do src[#src + 1] = "local v" .. i .. " = " .. i end
print(load(table.concat(src, "\n")))
--- integer for loop with large step
local c = 0
for i = 1, math.maxinteger, math.maxinteger // 3 do c = c + 1 end
print(c)
--- attributes on multiple locals
local a <const>, b = 1, 2
b = 3
print(a, b)
