-- fib: naive doubly recursive Fibonacci of N.
-- Measures Lua function-call overhead and small-integer arithmetic.

local function fib(n)
  if n < 2 then return n end
  return fib(n - 1) + fib(n - 2)
end

return {
  run = function(self, arg)
    local n = math.tointeger(tonumber(arg))
    return string.format("fib(%d)=%d", n, fib(n))
  end,
}
