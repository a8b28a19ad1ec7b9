-- Attack class: memory bombs. Each path tries to take more memory than the
-- sandbox has, some of them inside pcall so they could catch "not enough memory".
local routes = {}

routes["/string-rep"] = function()
  local ok, err = pcall(string.rep, "x", 1 << 30)
  return tostring(ok) .. tostring(err)
end

routes["/string-rep-loop"] = function()
  local keep = {}
  for i = 1, 1e6 do keep[i] = string.rep("r", 1 << 20) .. i end
end

routes["/table-growth"] = function()
  local t = {}
  local i = 0
  while true do i = i + 1; t[i] = i end
end

routes["/table-growth-pcall"] = function()
  local ok = pcall(function()
    local t = {}
    for i = 1, math.maxinteger do t[i] = { i } end
  end)
  return ok
end

routes["/concat"] = function()
  local s = "x"
  while true do s = s .. s end
end

routes["/concat-keep"] = function()
  -- Concatenation that keeps every intermediate string: quadratic memory.
  local keep, s = {}, ""
  for i = 1, 1e9 do s = s .. string.rep("z", 4096) .. i; keep[i] = s end
end

routes["/gc-stop"] = function()
  -- Garbage that would normally be collected, with the collector stopped:
  -- about 150 MiB of it. At the limit Lua still runs its emergency
  -- collection, which frees the garbage, so this one completes.
  collectgarbage("stop")
  for i = 1, 2e6 do local _ = { i, tostring(i) } end
  collectgarbage("restart")
end

routes["/gc-stop-keep"] = function()
  -- The collector stopped and everything kept: the limit stops it.
  collectgarbage("stop")
  local keep = {}
  for i = 1, 1e9 do keep[i] = { i, tostring(i) } end
end

routes["/table-concat"] = function()
  local parts = {}
  for i = 1, 64 do parts[i] = string.rep("c", 1 << 20) end
  local ok = pcall(table.concat, parts)
  return ok
end

routes["/coroutine-bomb"] = function()
  -- Every coroutine has its own Lua stack; keep them all alive.
  local keep = {}
  local i = 0
  while true do
    i = i + 1
    local co = coroutine.create(function() coroutine.yield() end)
    coroutine.resume(co)
    keep[i] = co
  end
end

return {
  on_request = function(self, ctx)
    local path = ctx:match('"path":"([^"]*)"')
    local attack = routes[path]
    if attack then attack() end
    return bext.middleware_continue()
  end,
}
