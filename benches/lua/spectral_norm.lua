-- spectral_norm: power iteration on A^T A for the N x N leading block of
-- the matrix a(i, j) = 1 / ((i+j)(i+j+1)/2 + i + 1), giving its spectral norm.
-- Measures float loops and small function calls.

local function a(i, j) -- 0-based indices
  local s = i + j
  return 1.0 / (s * (s + 1) // 2 + i + 1)
end

-- y = A x, or y = A^T x when transposed is true.
local function mul(n, x, y, transposed)
  for i = 0, n - 1 do
    local acc = 0.0
    for j = 0, n - 1 do
      local aij = transposed and a(j, i) or a(i, j)
      acc = acc + aij * x[j + 1]
    end
    y[i + 1] = acc
  end
end

local function mul_ata(n, x, y, scratch)
  mul(n, x, scratch, false)
  mul(n, scratch, y, true)
end

return {
  run = function(self, arg)
    local n = math.tointeger(tonumber(arg))
    local u, v, scratch = {}, {}, {}
    for i = 1, n do u[i] = 1.0 end
    for _ = 1, 10 do
      mul_ata(n, u, v, scratch)
      mul_ata(n, v, u, scratch)
    end
    local uv, vv = 0.0, 0.0
    for i = 1, n do
      uv = uv + u[i] * v[i]
      vv = vv + v[i] * v[i]
    end
    return string.format("%.9f", math.sqrt(uv / vv))
  end,
}
