-- A program of seed 0xd1ff5eed's first generator: its output differed only because the harness carried it badly (non_utf8_output).
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
try(0, string.format, '%i %o', 2^53, math.mininteger)
try(1, utf8.char, 0x7FFFFFFF)
try(2, function() local t = {} local co = coroutine.wrap(function() for i = 1, 5 do t[#t + 1] = i coroutine.yield() end end) for _ = 1, 3 do co() end return table.concat(t, ',') end)
try(3, function() local t = {} return table.insert(t, 'v'), #t end)
try(4, function() local k = 0 while true do k = k + 1 if k > 6 then goto out end end ::out:: return k end)
try(5, function() local mt = {__tostring = function(self) return 7 end, __concat = function(a, b) return 'cat' end} local a = setmetatable({tag = 1}, mt) local b = setmetatable({tag = 2}, {}) return a[3], b[4] end)
try(6, function() return string.format('%g', 'abc') end)
try(7, string.format, '%.14g', '10')
try(8, function() return ((math.mininteger + 1)) < math.maxinteger end)
try(9, function() local t = {1, nil, 3} return table.remove(t), #t end)
