-- Attack class: deep recursion in Lua and in C. Lua-level recursion has no
-- C frames and is bounded by memory; C-level recursion (nested pcall, gsub
-- callbacks, metamethods, coroutines) is bounded by Lua's C-stack limit of
-- 200 levels, well inside the wasm stack.
local routes = {}

routes["/lua"] = function()
  local function f(n) return 1 + f(n + 1) end
  return f(1)
end

routes["/lua-pcall"] = function()
  local function f(n) return 1 + f(n + 1) end
  local ok, err = pcall(f, 1)
  return "lua-pcall " .. tostring(ok) .. " " .. tostring(err)
end

-- Each of these raises Lua's catchable "stack overflow" error; pcall reports it.
local c_level = {
  { "pcall", function() local function f() return pcall(f) end return f() end },
  { "nested-pcall-error", function()
      local function f(n) local ok, e = pcall(f, n + 1) if not ok then error(e, 0) end end
      return f(1)
    end },
  { "gsub-callback", function()
      local function f(s) return (s:gsub(".", f)) end
      return f("ab")
    end },
  { "index-function", function()
      local t = setmetatable({}, {}); getmetatable(t).__index = function(t, k) return t[k] end
      return t.x
    end },
  { "index-chain", function()
      local t = {}
      for _ = 1, 5000 do t = setmetatable({}, { __index = t }) end
      return t.missing
    end },
  { "tostring", function()
      local t = setmetatable({}, {}); getmetatable(t).__tostring = function(t) return tostring(t) end
      return tostring(t)
    end },
  { "coroutine-nesting", function()
      local function f() return coroutine.wrap(f)() end
      return f()
    end },
  { "sort-comparator", function()
      local function f() table.sort({ 3, 2, 1 }, function(a, b) f() return a < b end) end
      return f()
    end },
  { "load-reader", function()
      local function f() return load(f) end
      return f()
    end },
  { "concat-metamethod", function()
      local mt = {}
      mt.__concat = function(a, b) return setmetatable({}, mt) .. a end
      return setmetatable({}, mt) .. "x"
    end },
  { "close", function()
      local function f()
        local guard <close> = setmetatable({}, { __close = function() f() end })
      end
      return f()
    end },
}

routes["/c-levels"] = function()
  local lines = {}
  for _, attempt in ipairs(c_level) do
    local ok, err = pcall(attempt[2])
    lines[#lines + 1] = attempt[1] .. "=" .. tostring(ok) .. " " .. tostring(err):gsub("[\"\\\n%c]", "?")
  end
  return table.concat(lines, "|")
end

return {
  on_request = function(self, ctx)
    local path = ctx:match('"path":"([^"]*)"')
    local attack = routes[path]
    if attack then
      local body = attack()
      return bext.middleware_respond('{"status":200,"body":"' .. tostring(body) .. '"}')
    end
    return bext.middleware_continue()
  end,
}
