-- A program of seed 0xd1ff5eed's first generator: its output differed only because the harness carried it badly (quotes_and_backslashes).
local function show(v)
  local t = math.type(v)
  if t == "float" then return string.format("%.17g", v)
  elseif t == "integer" then return string.format("%d", v)
  elseif type(v) == "string" then
    -- tostring of a table or function: hide the address.
    v = v:gsub("(%w+): 0x%x+", "%1: ADDR")
    return (string.format("%q", v):gsub("\n", "n"))
  elseif type(v) == "table" then
    local tag = rawget(v, "tag")
    return tag ~= nil and ("table:" .. tostring(tag)) or "table"
  elseif type(v) == "boolean" or v == nil then return tostring(v)
  else return type(v) end
end
local function out(...)
  local parts = {}
  for i = 1, select("#", ...) do parts[i] = show((select(i, ...))) end
  print(table.concat(parts, " "))
end
local function try(label, f, ...)
  local r = table.pack(pcall(f, ...))
  if r[1] then out(label, "ok", table.unpack(r, 2, r.n))
  else out(label, "err", r[2]) end
end
try(0, function() local co = coroutine.create(function() return coroutine.isyieldable(), select(2, coroutine.running()) end) return coroutine.resume(co) end)
try(1, function() local fs = {} local i = 1 ::again:: local x = i * i fs[#fs + 1] = function() return x end i = i + 1 if i <= 3 then goto again end return fs[1](), fs[2](), fs[3]() end)
try(2, function() local mt = {__index = function(t, k) return k * 2 end, __len = function() return 42 end} local a = setmetatable({tag = 1}, mt) local b = setmetatable({tag = 2}, mt) return a < 1 end)
try(3, function() local t = {13} local ok, e = pcall(table.sort, t, function(a, b) return a < 'x' end) return ok, e, table.concat(t, ',') end)
try(4, table.move, {1, 2}, 1, math.maxinteger, 2)
try(5, function() local mt = {__len = function() return 2.5 end} local a = setmetatable({tag = 1}, mt) local b = setmetatable({tag = 2}, mt) return a < 1 end)
try(6, function() return 0xffffffff == -2.5 end)
try(7, function() local t = {} for a, b in ('k=v, a=1, b=22'):gmatch('()(a)') do t[#t + 1] = show(a) .. '/' .. show(b) if #t > 10 then break end end return table.concat(t, ' ') end)
try(8, string.rep, 'x', '2', '')
try(9, function() local s = '\0\1\255' return s:byte(3, math.maxinteger) end)
try(10, string.format, '%d', 3.0)
try(11, function() local s = 'hello' return s:byte(1, 100) end)
