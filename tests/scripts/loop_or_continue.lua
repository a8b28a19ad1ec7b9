-- Behaves on ordinary requests; misbehaves on the path that names an attack.
local keep = {}
return {
  on_request = function(self, ctx)
    local path = ctx:match('"path":"([^"]*)"')
    if path == "/loop" then
      while true do end
    elseif path == "/pcall-loop" then
      -- A budget stop must not be catchable.
      local ok = pcall(function() while true do end end)
      return bext.middleware_respond('{"status":200,"body":"caught the budget stop: ' .. tostring(ok) .. '"}')
    elseif path == "/xpcall-loop" then
      xpcall(function() while true do end end, function(e) return e end)
      return bext.middleware_respond('{"status":200,"body":"caught"}')
    elseif path == "/coroutine-loop" then
      coroutine.wrap(function() while true do end end)()
    elseif path == "/memory-bomb" then
      local t = {}
      while true do t[#t + 1] = string.rep("x", 1 << 20) .. #t end
    elseif path == "/pcall-memory-bomb" then
      local ok = pcall(function()
        local t = {}
        while true do t[#t + 1] = string.rep("y", 1 << 20) .. #t end
      end)
      return bext.middleware_respond('{"status":200,"body":"caught the memory stop: ' .. tostring(ok) .. '"}')
    elseif path == "/pcall-recursion" then
      -- Lua cannot collect while it grows a stack, so this one fails without
      -- an emergency GC: still not catchable.
      local ok = pcall(function() local function f() return f() + 1 end return f() end)
      return bext.middleware_respond('{"status":200,"body":"caught: ' .. tostring(ok) .. '"}')
    elseif path == "/huge-string" then
      return string.rep("z", 1 << 30)
    elseif path == "/keep" then
      keep[#keep + 1] = string.rep("k", 1 << 20) .. #keep
    end
    return bext.middleware_continue()
  end,
}
