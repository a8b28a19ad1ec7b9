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
