-- A program of seed 0xd1ff5eed's first generator: its output differed only because the harness carried it badly (four_byte_utf8_output).
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
try(0, function() local r = {} for i = 1, 2.5, 1 do r[#r + 1] = show(i) if #r > 8 then break end end return table.concat(r, ',') end)
try(1, function() return ((('1e2' % '1e2') - math.min(-math.huge, '-7')) >> (string.format('%.17g', 1e15) >> (-1 ~ 1e15))) end)
try(2, function() local mt = {__add = function(a, b) return 'add' end} local a = setmetatable({tag = 1}, mt) local b = setmetatable({tag = 2}, mt) return -a, a // 2, a % 2, a & 1, a << 1, ~a end)
try(3, function() local t = {19, 0, 21, 16, 19, 12, 2} local ok, e = pcall(table.sort, t, nil) return ok, e, table.concat(t, ',') end)
try(4, function() return math.abs((-2^63)) end)
try(5, utf8.char, 0x10FFFF)
try(6, function() local t = {} for a, b in ('aaa'):gmatch('(.)(.?)') do t[#t + 1] = show(a) .. '/' .. show(b) if #t > 10 then break end end return table.concat(t, ' ') end)
try(7, function() local t = {-3, 16, 16, 0, 13, 12, 24, 1, 8, 4, -3, -1, 18, -1, 13, 23, 8} local ok, e = pcall(table.sort, t, function(a, b) if a == 4 then error('cmp ' .. a) end return a < b end) return ok, e, table.concat(t, ',') end)
try(8, function() local mt = {__add = function(a, b) return 'add' end, __unm = function(a) return 'neg' end} local a = setmetatable({tag = 1}, mt) local b = setmetatable({tag = 2}, mt) return string.format('%s|%s', a, b) end)
try(9, function() local mt = {__concat = function(a, b) return 'cat' end, __bnot = function(a) return 'bnot' end} local a = setmetatable({tag = 1}, mt) local b = setmetatable({tag = 2}, {}) return a + 1, 1 + a, a + b end)
