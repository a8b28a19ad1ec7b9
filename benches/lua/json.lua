-- json: a small JSON encoder (object keys sorted) and recursive-descent
-- decoder, round-tripping a nested document of N records built from N.
-- Measures string building, pattern scanning and table construction.

local null = setmetatable({}, { __name = "null" })
local escapes = { ['"'] = '\\"', ["\\"] = "\\\\", ["\n"] = "\\n", ["\t"] = "\\t", ["\r"] = "\\r", ["\b"] = "\\b", ["\f"] = "\\f" }
local unescapes = { ['"'] = '"', ["\\"] = "\\", ["/"] = "/", n = "\n", t = "\t", r = "\r", b = "\b", f = "\f" }

local function quote(s)
  return '"' .. s:gsub('[%c"\\]', function(c) return escapes[c] or string.format("\\u%04x", c:byte()) end) .. '"'
end

local function encode(v, out)
  local t = type(v)
  if t == "string" then
    out[#out + 1] = quote(v)
  elseif t == "number" then
    out[#out + 1] = math.type(v) == "integer" and string.format("%d", v) or string.format("%.17g", v)
  elseif t == "boolean" then
    out[#out + 1] = tostring(v)
  elseif v == null then
    out[#out + 1] = "null"
  elseif v[1] ~= nil or next(v) == nil then -- array
    out[#out + 1] = "["
    for i, x in ipairs(v) do
      if i > 1 then out[#out + 1] = "," end
      encode(x, out)
    end
    out[#out + 1] = "]"
  else
    local keys = {}
    for k in pairs(v) do keys[#keys + 1] = k end
    table.sort(keys)
    for i, k in ipairs(keys) do
      out[#out + 1] = (i == 1 and "{" or ",") .. quote(k) .. ":"
      encode(v[k], out)
    end
    out[#out + 1] = "}"
  end
  return out
end

local decode_at
local function decode_string(s, i) -- i is just after the opening quote
  local buf = {}
  while true do
    local j = s:find('["\\]', i) or error("unterminated string at " .. i)
    buf[#buf + 1] = s:sub(i, j - 1)
    if s:byte(j) == 34 then return table.concat(buf), j + 1 end
    local c = s:sub(j + 1, j + 1)
    if c == "u" then
      buf[#buf + 1], i = utf8.char(tonumber(s:sub(j + 2, j + 5), 16)), j + 6
    else
      buf[#buf + 1], i = unescapes[c] or error("bad escape \\" .. c), j + 2
    end
  end
end

function decode_at(s, i)
  i = s:find("[^ \n\r\t]", i)
  local c = s:sub(i, i)
  if c == '"' then return decode_string(s, i + 1)
  elseif c == "{" or c == "[" then
    local result, close, n = {}, c == "{" and "}" or "]", 0
    i = s:find("[^ \n\r\t]", i + 1)
    if s:sub(i, i) == close then return result, i + 1 end
    while true do
      local key, value
      if close == "}" then
        key, i = decode_at(s, i)
        i = s:match("^[ \n\r\t]*:()", i) or error("expected ':' at " .. i)
      else
        n = n + 1; key = n
      end
      value, i = decode_at(s, i)
      result[key] = value
      local sep, after = s:match("^[ \n\r\t]*([,%]}])()", i)
      if sep == close then return result, after end
      if sep ~= "," then error("expected ',' or '" .. close .. "' at " .. i) end
      i = after
    end
  elseif s:find("^true", i) then return true, i + 4
  elseif s:find("^false", i) then return false, i + 5
  elseif s:find("^null", i) then return null, i + 4
  end
  local num, after = s:match("^(-?%d+%.?%d*[eE]?[-+]?%d*)()", i)
  return tonumber(num) or error("bad value at " .. i), after
end

local function document(n)
  local doc = { count = n, title = "report \"" .. n .. "\"\n\tend\\", items = {}, empty = {}, missing = null }
  for i = 1, n do
    doc.items[i] = {
      id = i, name = "user" .. i .. "\1/" .. utf8.char(0x3b1 + i % 20), active = i % 3 == 0,
      score = i * 0.125 - 7.5, tags = { "t" .. i % 5, "g" .. i % 7, i % 4 == 0 },
      pos = { x = i % 17 - 8, y = -(i * 31 % 1000) / 4, deep = { level = i % 9, list = { i, i + 1, i + 2 } } },
    }
  end
  return doc
end

-- Compares two decoded values and adds up their contents (floats are multiples of 1/8).
local function check(a, b)
  if type(a) ~= "table" or a == null then
    if a ~= b then error("round trip differs: " .. tostring(a) .. " vs " .. tostring(b)) end
    local t = type(a)
    return t == "number" and math.tointeger(a * 8) or t == "string" and #a or a == true and 1 or 0
  end
  local sum, count = 0, 0
  for k, v in pairs(a) do sum, count = sum + check(v, b[k]), count + 1 end
  for _ in pairs(b) do count = count - 1 end
  if count ~= 0 then error("round trip differs in table size") end
  return sum
end

return {
  run = function(self, arg)
    local n = math.tointeger(tonumber(arg))
    local doc = document(n)
    local text = table.concat(encode(doc, {}))
    local back = decode_at(text, 1)
    local sum = check(doc, back)
    if table.concat(encode(back, {})) ~= text then error("re-encoding differs") end
    return string.format("len=%d sum=%d", #text, sum)
  end,
}
