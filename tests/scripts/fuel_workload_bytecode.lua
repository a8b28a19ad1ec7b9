-- Pure bytecode for measuring fuel per Lua instruction: arithmetic, table
-- reads and writes and local function calls, no library calls.
local t = {}
for i = 1, 64 do t[i] = i end

local function mix(a, b)
  return (a * 31 + b) % 65521
end

return {
  on_request = function(self, ctx)
    local h = 0
    for round = 1, 200 do
      for i = 1, #t do
        h = mix(h, t[i] + round)
        t[i] = h % 100
      end
    end
    return bext.middleware_continue()
  end,
}
