-- Attack class: reaching outside the sandbox: files, processes, the
-- environment, the registry, other environments. The body lists the type of
-- everything found (or the error raised), one "name=outcome" each.
local probes = {
  { "io", function() return io end },
  { "io-open", function() return io.open("/etc/passwd") end },
  { "os.execute", function() return os.execute end },
  { "os.exit", function() return os.exit end },
  { "os.getenv", function() return os.getenv end },
  { "os.remove", function() return os.remove end },
  { "os.rename", function() return os.rename end },
  { "os.tmpname", function() return os.tmpname end },
  { "os.setlocale", function() return os.setlocale end },
  { "require", function() return require end },
  { "package", function() return package end },
  { "package.loadlib", function() return package.loadlib end },
  { "debug", function() return debug end },
  { "debug.getregistry", function() return debug.getregistry() end },
  { "dofile", function() return dofile end },
  { "loadfile", function() return loadfile end },
  { "getfenv", function() return getfenv end },
  { "setfenv", function() return setfenv end },
  { "module", function() return module end },
  { "newproxy", function() return newproxy end },
  { "collectgarbage-count", function() return math.type(collectgarbage("count")) end },
  { "_ENV-io", function() return _ENV.io end },
  { "_G-io", function() return _G.io end },
  { "rawget-io", function() return rawget(_G, "io") end },
  { "load-env-io", function() return load("return io, os.execute, require")() end },
  { "load-with-env", function() return load("return print", "x", "t", {})() end },
  { "string-metatable", function() return getmetatable("").__index == string end },
  { "string-metatable-io", function() return getmetatable("").__index.io end },
  { "coroutine-running", function() return type(coroutine.running()) end },
  { "os-keys", function()
      local keys = {}
      for k in pairs(os) do keys[#keys + 1] = k end
      table.sort(keys)
      return table.concat(keys, ",")
    end },
  { "globals", function()
      local keys = {}
      for k in pairs(_G) do keys[#keys + 1] = k end
      table.sort(keys)
      return table.concat(keys, ",")
    end },
  { "os.exit-call", function() return os.exit(1) end },
  { "require-call", function() return require("io") end },
}

return {
  on_request = function(self, ctx)
    local lines = {}
    for _, probe in ipairs(probes) do
      local ok, v = pcall(probe[2])
      local outcome = ok and (type(v) == "string" and v or type(v) .. (type(v) == "boolean" and (" " .. tostring(v)) or ""))
        or ("error " .. tostring(v))
      lines[#lines + 1] = probe[1] .. "=" .. outcome:gsub("[\"\\\n%c]", "?")
    end
    return bext.middleware_respond('{"status":200,"body":"' .. table.concat(lines, "|") .. '"}')
  end,
}
