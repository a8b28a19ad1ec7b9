-- collectgarbage("count") follows what Lua allocated: large strings count
-- while they live and stop counting once collected, back to within 1 KiB.
-- Each snippet first makes what stays for the state's life anyway: the
-- metatable of string.rep's buffer and, in Lua 5.4.9, the stack room a
-- finalizer needs (see the last snippet).
--- two 4 MiB strings, counted and then collected
local _ = #string.rep("w", 1 << 16); setmetatable({}, {__gc = function() end})
collectgarbage(); collectgarbage()
local before = collectgarbage("count")
local a, b = string.rep("a", 1 << 22), string.rep("b", 1 << 22)
local both = collectgarbage("count") - before
a, b = nil, nil
collectgarbage()
print(both > 8192, collectgarbage("count") - before <= 1)
--- large strings as weak keys: one kept, one collected
local _ = #string.rep("w", 1 << 16); setmetatable({}, {__gc = function() end})
collectgarbage(); collectgarbage()
local before = collectgarbage("count")
local weak = setmetatable({}, {__mode = "kv"})
weak[string.rep("k", 1 << 22)] = 1
weak[string.rep("v", 1 << 22)] = {}
weak[{}] = 2
local both = collectgarbage("count") - before
collectgarbage()
local kept = collectgarbage("count") - before
local key, value = next(weak)
local length, after_key = #key, next(weak, key)
weak[key] = nil
key = nil
collectgarbage()
local left, dead = next(weak), weak[string.rep("v", 100)]
local final = collectgarbage("count") - before
-- (printed at the end: printing allocates on the native harness's side)
print(both > 8192, kept >= 4096, kept < 8192)
print(length, value, after_key, left, dead, final <= 1)
--- incremental and generational collections give memory back
local _ = #string.rep("w", 1 << 16); setmetatable({}, {__gc = function() end})
local results = {}
for _, mode in ipairs({"incremental", "generational"}) do
  collectgarbage(mode)
  collectgarbage(); collectgarbage()
  local before = collectgarbage("count")
  local s = string.rep("z", 1 << 22) .. string.rep("y", 1 << 21)
  s = nil
  collectgarbage()
  results[#results + 1] = collectgarbage("count") - before <= 1
end
print(table.unpack(results))
--- the first finalizer leaves stack room behind [differs: lua-5.4.9-finalizer-stack]
collectgarbage(); collectgarbage()
local before = collectgarbage("count")
setmetatable({}, {__gc = function() end})
collectgarbage()
local grown = collectgarbage("count") - before
print(grown > 0.25, grown < 2)
