-- binary_trees: builds, walks and throws away many complete binary trees
-- of depth 2..N while one long-lived tree of depth N stays reachable.
-- Measures table allocation and the garbage collector.

-- A node is {left, right}; a leaf is an empty table.
local function build(depth)
  if depth == 0 then return {} end
  return { build(depth - 1), build(depth - 1) }
end

local function count(node)
  local left = node[1]
  if left == nil then return 1 end
  return 1 + count(left) + count(node[2])
end

return {
  run = function(self, arg)
    local n = math.tointeger(tonumber(arg))
    local keep = build(n)
    local check = 0
    -- Each depth allocates about 2^(N+1) nodes in total, in trees of that depth.
    for depth = 2, n do
      local nodes = 0
      for _ = 1, 1 << (n - depth) do
        nodes = nodes + count(build(depth))
      end
      check = check * 31 + nodes + depth
    end
    return string.format("depth=%d check=%d keep=%d", n, check, count(keep))
  end,
}
