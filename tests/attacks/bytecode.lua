-- Attack class: loading binary chunks (Lua does not verify bytecode, so a
-- crafted chunk is a way into the VM's memory). Every attempt must fail; the
-- body lists how.
local header = "\27Lua\x54\x00\x19\x93\r\n\x1a\n\x04\x08\x08\x78\x56\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x28\x77\x40"
local crafted = header .. string.rep("\255", 64)

local attempts = {
  { "load-mode-b", function() return load(crafted, "x", "b") end },
  { "load-mode-bt", function() return load(crafted, "x", "bt") end },
  { "load-default-mode", function() return load(crafted) end },
  { "load-mode-t", function() return load(crafted, "x", "t") end },
  { "load-reader", function()
      local parts = { "\27", "Lua", crafted:sub(5) }
      local i = 0
      return load(function() i = i + 1; return parts[i] end, "x", "b")
    end },
  { "load-reader-default", function()
      local parts = { "\27", crafted:sub(2) }
      local i = 0
      return load(function() i = i + 1; return parts[i] end)
    end },
  { "string-dump", function() return string.dump end },
  { "dump-via-metatable", function() return getmetatable("").__index.dump end },
  { "load-is-wrapped", function() return debug end },
}

return {
  on_request = function(self, ctx)
    local lines = {}
    for _, attempt in ipairs(attempts) do
      local ok, f, err = pcall(attempt[2])
      local outcome
      if not ok then outcome = "raised " .. tostring(f)
      elseif f == nil then outcome = "nil " .. tostring(err)
      else outcome = "LOADED " .. type(f) end
      lines[#lines + 1] = attempt[1] .. "=" .. outcome:gsub("[\"\\\n%c]", "?")
    end
    return bext.middleware_respond('{"status":200,"body":"' .. table.concat(lines, "|") .. '"}')
  end,
}
