-- Plugin-like work for measuring fuel per Lua instruction: pattern matching
-- on the context, table updates, string building, arithmetic and calls.
local counts, seen = {}, 0

local function field(ctx, name)
  return ctx:match('"' .. name .. '"%s*:%s*"([^"]*)"')
end

local function score(s)
  local h = 0
  for i = 1, #s do h = (h * 31 + s:byte(i)) % 1000003 end
  return h
end

return {
  on_request = function(self, ctx)
    for round = 1, 40 do
      local ip = field(ctx, "peer_ip") or "unknown"
      local path = field(ctx, "path") or "/"
      local key = ip .. "|" .. path:sub(1, 16) .. "|" .. round
      counts[key] = (counts[key] or 0) + 1
      seen = seen + score(key) % 7
      local parts = {}
      for segment in path:gmatch("[^/]+") do parts[#parts + 1] = segment:upper() end
      local joined = table.concat(parts, ".")
      if #joined > 1000 then error("unreachable") end
    end
    return bext.middleware_continue()
  end,
}
