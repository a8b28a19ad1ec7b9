-- strings: builds N formatted records, joins them with table.concat, then
-- rewrites and scans the text with gsub, gmatch, find, sub, rep, upper/lower
-- and byte/char. Measures the string library and string interning.

local words = { "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta" }

-- Folds every third byte and the length of s into a 32-bit hash.
local function fold(h, s)
  for i = 1, #s, 3 do h = (h * 31 + s:byte(i)) & 0xFFFFFFFF end
  return (h * 131 + #s) & 0xFFFFFFFF
end

return {
  run = function(self, arg)
    local n = math.tointeger(tonumber(arg))
    local parts = {}
    for i = 1, n do
      local w = words[i % #words + 1]
      local tail = w:upper():rep(i % 3 + 1, "/")
      parts[i] = string.format("%s-%05d=[%x]{%s} %q", w, i, i * 2654435761 % 65536, tail, w:sub(2, 4))
    end
    local text = table.concat(parts, ";\n")
    local h = fold(0, text)

    -- gsub with captures and a function, then with a plain replacement string
    local swapped, swaps = text:gsub("(%a+)%-(%d+)", function(w, d) return d .. "_" .. w:sub(1, 3) end)
    local squeezed, squeezes = swapped:gsub("[{}]", "|")
    h = fold(fold(h, swapped), squeezed) + swaps + squeezes

    -- gmatch over hex fields and words
    local hexsum, wordlen = 0, 0
    for hex in text:gmatch("%[(%x+)%]") do hexsum = hexsum + tonumber(hex, 16) end
    for word in text:gmatch("%u+") do wordlen = wordlen + #word end

    -- plain and pattern find
    local found, pos = 0, 1
    while true do
      local s, e = text:find("GAMMA", pos, true)
      if not s then break end
      found, pos = found + 1, e + 1
    end
    local first = text:find("theta%-%d+=%[%x+%]")

    -- byte/char: rotate the letters of each record by its index
    local rotated = {}
    for i, p in ipairs(parts) do
      local bytes = { p:lower():byte(1, -1) }
      for k, b in ipairs(bytes) do
        if b >= 97 and b <= 122 then bytes[k] = (b - 97 + i) % 26 + 97 end
      end
      rotated[i] = string.char(table.unpack(bytes))
    end
    h = fold(h, table.concat(rotated))
    return string.format("%d:%d:%d:%d:%d", h, hexsum, wordlen, found, first or -1)
  end,
}
