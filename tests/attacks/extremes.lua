-- Attack class: argument extremes for table.unpack and string.format (and a
-- few relatives). Each attempt runs under pcall; the response body lists what
-- happened, one "name=outcome" line each, so the test can check every one.
local attempts = {
  { "unpack-huge-range", function() return select("#", table.unpack({}, 1, 1e8)) end },
  { "unpack-full-range", function() return select("#", table.unpack({}, math.mininteger, math.maxinteger)) end },
  { "unpack-negative", function() return select("#", table.unpack({}, 0, -1)) end },
  { "unpack-near-limit", function() return select("#", table.unpack({}, 1, 999000)) end },
  { "format-width", function() return string.format("%99999d", 1) end },
  { "format-width-100", function() return string.format("%100d", 1) end },
  { "format-precision", function() return #string.format("%.99f", 1e308) end },
  { "format-precision-100", function() return string.format("%.100f", 1) end },
  { "format-star", function() return string.format("%*d", 10, 1) end },
  { "format-many", function() return #string.format(string.rep("%d", 10000), table.unpack({}, 1, 10000)) end },
  { "format-q-huge", function() return #string.format("%q", string.rep("\0", 1e5)) end },
  { "format-s-width", function() return string.format("%99s", string.rep("s", 1e6)):len() end },
  { "format-a", function() return string.format("%a", 1 / 0) end },
  { "rep-maxinteger", function() return #string.rep("x", math.maxinteger) end },
  { "rep-separator", function() return #string.rep("x", 1 << 31, ",") end },
  { "rep-negative", function() return #string.rep("x", -1) end },
  { "pack-huge", function() return #string.pack("i16", 1) end },
  { "pack-size", function() return #string.pack("!17i", 1) end },
  { "pack-string-len", function() return #string.pack("s1", string.rep("p", 300)) end },
  { "sub-extremes", function() return #("abc"):sub(math.mininteger, math.maxinteger) end },
  { "byte-huge", function() return select("#", ("x"):rep(1e6):byte(1, -1)) end },
  { "char-many", function() return #string.char(table.unpack({}, 1, 1e6)) end },
  { "concat-range", function() return #table.concat({}, ",", 1, 1e8) end },
  { "insert-position", function() table.insert({}, 1e8, 1) end },
  { "move-range", function() return #table.move({}, 1, math.maxinteger, 2) end },
  { "utf8-char", function() return #utf8.char(0x7FFFFFFF) end },
  { "utf8-huge", function() return #utf8.char(0x80000000) end },
  { "tointeger", function() return math.tointeger(2^63) end },
  { "random-range", function() return math.random(0) ~= nil end },
  { "date-far", function() return os.date("!%Y", 1 << 60) end },
  { "time-far", function() return os.time({ year = 1e15, month = 1, day = 1 }) end },
}

return {
  on_request = function(self, ctx)
    local lines = {}
    for _, attempt in ipairs(attempts) do
      local ok, result = pcall(attempt[2])
      local outcome = ok and ("ok " .. tostring(result)) or ("error " .. tostring(result))
      lines[#lines + 1] = attempt[1] .. "=" .. outcome:gsub("[\"\\\n]", "?")
    end
    return bext.middleware_respond('{"status":200,"body":"' .. table.concat(lines, "|") .. '"}')
  end,
}
