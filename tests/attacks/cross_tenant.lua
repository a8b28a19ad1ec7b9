-- Attack class: reading or tampering with another tenant's state through
-- what Lua states usually share: globals, the string metatable, library
-- tables, the registry, metatables of basic types. The same script is
-- loaded as two plugins: "/tamper" changes everything it can reach,
-- "/inspect" reports what it sees.
secret = "secret-of-" .. tostring({}):sub(8)

return {
  on_request = function(self, ctx)
    -- string.match, not ctx:match: "/tamper" replaces the string metatable's
    -- __index, and this plugin should keep serving its own requests.
    local path = string.match(ctx, '"path":"([^"]*)"')
    if path == "/tamper" then
      getmetatable("").__index = function() return "pwned" end
      getmetatable("").__tenant = secret
      string.upper = function() return "pwned" end
      table.concat = function() return "pwned" end
      math.pi = 3
      _G.leak = secret
      setmetatable(_G, { __index = function() return "pwned" end })
      debug = "pwned"
      return bext.middleware_continue()
    elseif path == "/inspect" then
      local seen = {
        "upper=" .. ("abc"):upper(),
        "meta=" .. tostring(getmetatable("").__tenant),
        "index=" .. tostring(getmetatable("").__index == string),
        "concat=" .. table.concat({ "a", "b" }),
        "pi=" .. tostring(math.pi == math.pi and math.pi > 3.14),
        "leak=" .. tostring(rawget(_G, "leak")),
        "gmeta=" .. tostring(getmetatable(_G)),
        "debug=" .. tostring(rawget(_G, "debug")),
        "missing=" .. tostring(undefined_global),
      }
      return bext.middleware_respond('{"status":200,"body":"' .. table.concat(seen, ",") .. '"}')
    elseif path == "/hash-order" then
      -- The iteration order of string keys follows their hashes, which
      -- depend on the state's hash seed: equal orders in two sandboxes
      -- would mean a shared seed.
      local t = {}
      for i = 1, 64 do t["key" .. i] = true end
      local order = {}
      for k in pairs(t) do order[#order + 1] = k:sub(4) end
      return bext.middleware_respond('{"status":200,"body":"' .. table.concat(order, ",") .. '"}')
    end
    return bext.middleware_continue()
  end,
}
