-- Attack class: deep nesting in the parser (it recurses in C for every level).
-- Each source is compiled with load; the body lists what load said.
local n = 100000
local sources = {
  { "parentheses", string.rep("(", n) .. "1" .. string.rep(")", n) },
  { "table-constructors", "return " .. string.rep("{", n) .. string.rep("}", n) },
  { "unary-minus", "return " .. string.rep("- ", n) .. "1" },
  { "not-chain", "return " .. string.rep("not ", n) .. "nil" },
  { "functions", string.rep("function f() ", n) .. string.rep("end ", n) },
  { "blocks", string.rep("do ", n) .. string.rep("end ", n) },
  { "if-chain", string.rep("if x then ", n) .. string.rep("end ", n) },
  { "index-chain", "return x" .. string.rep("[1]", n) },
  { "call-chain", "return f" .. string.rep("()", n) },
  { "concat-chain", "return 'a'" .. string.rep(" .. 'a'", n) },
  { "power-chain", "return 2" .. string.rep(" ^ 2", n) },
  { "long-string", "return [" .. string.rep("=", n) .. "[x]" .. string.rep("=", n) .. "]" },
  { "many-locals", string.rep("local a ", 300) },
  { "many-upvalues", (function()
      local s = {}
      for i = 1, 300 do s[#s + 1] = "local v" .. i .. " = " .. i end
      s[#s + 1] = "return function() return " .. ("v1 + "):rep(1) .. "v300"
      for i = 2, 299 do s[#s] = s[#s] .. " + v" .. i end
      s[#s] = s[#s] .. " end"
      return table.concat(s, "\n")
    end)() },
}

return {
  on_request = function(self, ctx)
    local lines = {}
    for _, source in ipairs(sources) do
      local f, err = load(source[2], "=nest")
      local outcome = f and "compiled" or ("error " .. tostring(err))
      lines[#lines + 1] = source[1] .. "=" .. outcome:gsub("[\"\\\n%c]", "?")
    end
    return bext.middleware_respond('{"status":200,"body":"' .. table.concat(lines, "|") .. '"}')
  end,
}
