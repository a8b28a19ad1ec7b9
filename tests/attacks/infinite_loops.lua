-- Attack class: infinite loops, where a script might hope to catch the budget
-- stop or hide the loop from it. Every path except /ok runs forever.
local routes = {}

routes["/plain"] = function() while true do end end

routes["/pcall"] = function()
  -- A budget stop must not be catchable: the second loop never gets a chance.
  local ok = pcall(function() while true do end end)
  while not ok do end
end

routes["/xpcall"] = function()
  xpcall(function() while true do end end, function(e) return e end)
end

routes["/xpcall-handler"] = function()
  -- The loop is in the message handler, which runs while unwinding.
  xpcall(error, function() while true do end end)
end

routes["/coroutine"] = function()
  local co = coroutine.create(function() while true do end end)
  local ok = coroutine.resume(co)
  while not ok do end
end

routes["/coroutine-wrap"] = function()
  coroutine.wrap(function() while true do coroutine.yield() end end)()
  while true do end
end

routes["/gc"] = function()
  -- The loop runs in a finalizer, inside the garbage collector.
  setmetatable({}, { __gc = function() while true do end end })
  collectgarbage()
end

routes["/gc-incremental"] = function()
  -- Finalizers that loop, reached by ordinary allocation, not an explicit collect.
  for _ = 1, 1000 do setmetatable({}, { __gc = function() while true do end end }) end
  local t = {}
  for i = 1, 1e7 do t[i % 100 + 1] = {} end
end

routes["/gsub"] = function()
  string.gsub("aaa", "a", function() while true do end end)
end

routes["/sort"] = function()
  local t = {}
  for i = 1, 100 do t[i] = i end
  table.sort(t, function(a, b) while true do end end)
end

routes["/close"] = function()
  -- A to-be-closed variable whose __close loops, run while unwinding an error.
  local ok = pcall(function()
    local guard <close> = setmetatable({}, { __close = function() while true do end end })
    error("unwind")
  end)
  return ok
end

routes["/tostring"] = function()
  tostring(setmetatable({}, { __tostring = function() while true do end end }))
end

routes["/load"] = function()
  load("while true do end")()
end

return {
  on_request = function(self, ctx)
    local path = ctx:match('"path":"([^"]*)"')
    local attack = routes[path]
    if attack then attack() end
    return bext.middleware_continue()
  end,
}
