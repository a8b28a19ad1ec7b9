-- Coroutines: create, resume, yield, status, wrap, isyieldable, running,
-- close, and yields across pcall.
--- resume and yield pass values
local co = coroutine.create(function(a, b)
  local c = coroutine.yield(a + b)
  local d, e = coroutine.yield(c * 2)
  return d + e
end)
print(coroutine.resume(co, 1, 2))
print(coroutine.resume(co, 10))
print(coroutine.resume(co, 3, 4))
print(coroutine.resume(co))
--- status through a coroutine's life
local co
co = coroutine.create(function() print(coroutine.status(co)) coroutine.yield() end)
print(coroutine.status(co))
coroutine.resume(co)
print(coroutine.status(co))
coroutine.resume(co)
print(coroutine.status(co))
--- normal status of a resuming coroutine
local outer
outer = coroutine.create(function()
  local inner = coroutine.create(function() print(coroutine.status(outer)) end)
  coroutine.resume(inner)
end)
coroutine.resume(outer)
--- wrap as an iterator
local function range(n) return coroutine.wrap(function() for i = 1, n do coroutine.yield(i) end end) end
local out = {}
for i in range(5) do out[#out + 1] = i end
print(table.concat(out, ","))
--- wrap propagates errors with position
local f = coroutine.wrap(function() error("inside wrap") end)
print(pcall(f))
local g = coroutine.wrap(function() error({}) end)
print(select("#", pcall(g)), type(select(2, pcall(coroutine.wrap(function() error({}) end)))))
--- resume a dead coroutine
local co = coroutine.create(function() end)
coroutine.resume(co)
print(coroutine.resume(co))
local f = coroutine.wrap(function() end)
f()
print(pcall(f))
--- errors inside coroutines
local co = coroutine.create(function() local x = nil; return x.field end)
print(coroutine.resume(co))
print(coroutine.status(co))
--- isyieldable and running
print(coroutine.isyieldable())
local main, ismain = coroutine.running()
print(type(main), ismain)
local co = coroutine.create(function() print(coroutine.isyieldable()) local _, m = coroutine.running() print(m) end)
coroutine.resume(co)
--- yield outside a coroutine
print(pcall(coroutine.yield, 1))
--- yield across pcall
local co = coroutine.create(function()
  local ok, v = pcall(function() local x = coroutine.yield("from pcall") return x * 2 end)
  coroutine.yield(ok, v)
  local ok2, e = pcall(function() coroutine.yield("again") error("after yield") end)
  return ok2, e
end)
print(coroutine.resume(co))
print(coroutine.resume(co, 21))
print(coroutine.resume(co))
print(coroutine.resume(co))
--- yield across xpcall with a handler
local co = coroutine.create(function()
  return xpcall(function() coroutine.yield(1) error("boom") end, function(m) return "handled " .. m end)
end)
print(coroutine.resume(co))
print(coroutine.resume(co))
--- yield across metamethods
local mt = {__add = function(a, b) return coroutine.yield("adding") end, __index = function(t, k) return coroutine.yield("indexing " .. k) end}
local co = coroutine.create(function() local t = setmetatable({}, mt) local s = t + 1 local v = t.key return s, v end)
print(coroutine.resume(co))
print(coroutine.resume(co, 10))
print(coroutine.resume(co, 20))
--- yield inside table.sort comparator is an error
local co = coroutine.create(function() table.sort({3, 2, 1}, function(a, b) coroutine.yield() return a < b end) end)
print(coroutine.resume(co))
--- yield across a gsub callback is an error
local co = coroutine.create(function() return ("abc"):gsub(".", function(c) coroutine.yield(c) end) end)
print(coroutine.resume(co))
--- close a suspended coroutine
local co = coroutine.create(function() coroutine.yield() end)
coroutine.resume(co)
print(coroutine.close(co), coroutine.status(co))
print(coroutine.close(coroutine.create(print)))
--- close runs pending to-be-closed variables
local co = coroutine.create(function()
  local x <close> = setmetatable({}, {__close = function(_, err) print("closing x", err) end})
  local y <close> = setmetatable({}, {__close = function(_, err) print("closing y", err) end})
  coroutine.yield()
end)
coroutine.resume(co)
print(coroutine.close(co))
--- close with an error in __close
local co = coroutine.create(function()
  local x <close> = setmetatable({}, {__close = function() error("close failed") end})
  coroutine.yield()
end)
coroutine.resume(co)
print(coroutine.close(co))
--- close a dead coroutine with an error
local co = coroutine.create(function() error("died") end)
coroutine.resume(co)
print(coroutine.close(co))
--- close the running coroutine fails
local co
co = coroutine.create(function() return pcall(coroutine.close, co) end)
print(coroutine.resume(co))
--- resume passing many values
local co = coroutine.create(function(...) return select("#", ...), ... end)
print(coroutine.resume(co, 1, nil, 3, nil))
--- generators with state
local function gen()
  return coroutine.wrap(function()
    local a, b = 0, 1
    while true do coroutine.yield(a) a, b = b, a + b end
  end)
end
local g = gen()
local out = {}
for i = 1, 15 do out[i] = g() end
print(table.concat(out, " "))
--- producer consumer
local producer = coroutine.create(function() for _, w in ipairs({"a", "b", "c"}) do coroutine.yield(w) end return "done" end)
local words = {}
while true do
  local ok, w = coroutine.resume(producer)
  if coroutine.status(producer) == "dead" then words[#words + 1] = "<" .. w .. ">" break end
  words[#words + 1] = w
end
print(table.concat(words))
--- deep coroutine nesting
local function nest(n)
  if n == 0 then return 0 end
  local co = coroutine.create(nest)
  local _, v = coroutine.resume(co, n - 1)
  return v + 1
end
print(nest(100))
--- wrap with arguments on first call
local f = coroutine.wrap(function(a, b) local c = coroutine.yield(a .. b) return c end)
print(f("x", "y"), f("z"))
--- resume non-coroutine errors
print(pcall(coroutine.resume, 1), pcall(coroutine.status, {}))
--- yield from nested Lua calls
local function deep(n) if n == 0 then return coroutine.yield("bottom") end return deep(n - 1) end
local co = coroutine.create(function() return deep(50) end)
print(coroutine.resume(co))
print(coroutine.resume(co, "back"))
