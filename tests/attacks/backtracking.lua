-- Attack class: pattern matching that backtracks for a very long time, and
-- patterns whose matcher recurses deeply in C.
local subject = string.rep("a", 5000)
local routes = {}

routes["/exponential"] = function()
  -- Polynomial of degree 20 in the subject length: never finishes in practice.
  return string.find(subject, string.rep("a-", 20) .. "b")
end

routes["/nested-frontier"] = function()
  return string.match(subject, string.rep(".-", 30) .. "%f[b]")
end

routes["/gmatch-quadratic"] = function()
  local n = 0
  for _ in string.gmatch(string.rep("a", 100000), "a-a-a-a-b") do n = n + 1 end
  return n
end

routes["/gsub-everything"] = function()
  -- Each step doubles the string; stopped by memory or fuel, whichever first.
  local s = subject
  while true do s = s:gsub(".", "%0%0") end
end

routes["/deep-pattern"] = function()
  -- Optional items recurse in the matcher: Lua stops at its own depth limit
  -- with a catchable "pattern too complex"; the script reports what it got.
  local ok, err = pcall(string.match, string.rep("a", 400), string.rep("a?", 400) .. string.rep("a", 400))
  local ok2, err2 = pcall(string.find, string.rep("(", 40), string.rep("%(", 40))
  local ok3, err3 = pcall(string.match, "x", string.rep("(", 33) .. "x" .. string.rep(")", 33))
  return bext.middleware_respond('{"status":200,"body":"' ..
    tostring(ok) .. " " .. tostring(err) .. "|" .. tostring(ok2) .. " " .. tostring(err2) .. "|" ..
    tostring(ok3) .. " " .. tostring(err3) .. '"}')
end

return {
  on_request = function(self, ctx)
    local path = ctx:match('"path":"([^"]*)"')
    local attack = routes[path]
    if attack then
      local result = attack()
      if type(result) == "string" and result:find("^{") then return result end
    end
    return bext.middleware_continue()
  end,
}
