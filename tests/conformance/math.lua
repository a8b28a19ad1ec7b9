-- The math library.
--- abs ceil floor
print(math.abs(-3), math.abs(3.5), math.abs(math.mininteger), math.abs(-0.0))
print(math.ceil(3.2), math.ceil(-3.2), math.floor(3.7), math.floor(-3.7), math.ceil(5), math.floor(-5))
print(math.type(math.ceil(3.2)), math.floor(2^62 + 0.0) == 2^62, math.floor(1e100), math.ceil(-1e100))
--- floor and ceil of huge and nan
print(math.floor(math.huge), math.ceil(-math.huge), math.floor(0.5), math.ceil(-0.5))
--- max and min
print(math.max(1, 5, 3), math.min(1, 5, 3), math.max(1, 2.5), math.min(-0.0, 0), math.max(3), pcall(math.max))
print(math.type(math.max(1, 2.0)), math.max(2, 2.0), math.min(math.mininteger, math.huge))
--- fmod
print(math.fmod(7, 3), math.fmod(-7, 3), math.fmod(7, -3), math.fmod(7.5, 2), math.fmod(-6, 2))
print(pcall(math.fmod, 1, 0), math.fmod(1, 0.0) ~= math.fmod(1, 0.0), math.fmod(math.mininteger, -1))
print(math.fmod(5, math.huge), math.type(math.fmod(6, 4)), math.type(math.fmod(6.0, 4)))
--- modf
print(math.modf(3.7), math.modf(-3.7), math.modf(5), math.modf(math.huge), math.modf(-math.huge))
--- sqrt exp log
print(math.sqrt(16), math.sqrt(2), math.exp(0), math.log(1), math.log(8, 2), math.log(100, 10), math.log(27, 3))
print(string.format("%.14g %.14g %.14g", math.exp(1), math.log(10), math.log(2, 10)))
--- log of special values
print(math.log(0), math.log(-1) ~= math.log(-1), math.sqrt(-1) ~= math.sqrt(-1), math.log(math.huge))
--- trigonometry
print(math.sin(0), math.cos(0), math.tan(0), math.asin(1) == math.pi / 2, math.acos(1), math.atan(1) == math.pi / 4)
print(string.format("%.14g %.14g %.14g %.14g", math.sin(1), math.cos(1), math.tan(1), math.atan(1, -1)))
print(string.format("%.14g %.14g %.14g", math.atan(-1, -1), math.atan(0, -1), math.atan(1, 0)))
--- trigonometry with full precision
print(string.format("%.17g %.17g %.17g", math.sin(0.5), math.cos(0.5), math.exp(0.5)))
--- deg rad pi huge
print(math.deg(math.pi), math.rad(180) == math.pi, math.pi, math.huge, -math.huge)
--- integer limits
print(math.maxinteger, math.mininteger, math.maxinteger + math.mininteger, math.type(math.maxinteger))
--- tointeger
print(math.tointeger(5.0), math.tointeger(5.5), math.tointeger("5"), math.tointeger({}), math.tointeger(2^53))
--- type
print(math.type(1), math.type(1.0), math.type("1"), math.type(nil), pcall(math.type))
--- ult
print(math.ult(1, 2), math.ult(-1, 2), math.ult(2, -1), math.ult(math.maxinteger, math.mininteger))
--- random with a fixed seed is deterministic
math.randomseed(42)
local a = {math.random(100), math.random(100), math.random(100), math.random(1, 6), math.random(0)}
math.randomseed(42)
local b = {math.random(100), math.random(100), math.random(100), math.random(1, 6), math.random(0)}
print(table.concat(a, ",") == table.concat(b, ","))
print(table.concat(a, ","))
--- random floats with a fixed seed
math.randomseed(7, 11)
print(string.format("%.17g %.17g", math.random(), math.random()))
print(math.random(3, 3), math.random(math.mininteger, math.maxinteger))
--- random ranges and errors
math.randomseed(1)
local ok = true
for i = 1, 1000 do local r = math.random(-5, 5) if r < -5 or r > 5 or math.type(r) ~= "integer" then ok = false end end
print(ok, pcall(math.random, 2, 1), pcall(math.random, 1, 2, 3))
print(pcall(math.random, 1.5))
--- randomseed returns its seeds
print(math.randomseed(123, 456))
--- abs and negative zero
print(math.abs(-0.0), 1 / math.abs(-0.0), math.abs(math.huge * -1))
--- sqrt and floating rounding
print(math.sqrt(2) ^ 2 == 2, math.sqrt(4) == 2, math.floor(math.sqrt(2) * 1e10))
--- pow and exp compatibility functions (LUA_COMPAT_MATHLIB)
print(type(math.pow), type(math.ldexp), type(math.cosh), math.pow(2, 3), math.ldexp(1, 4), math.cosh(0))
--- integer float arithmetic in math functions
print(math.max(math.maxinteger, 2^63), math.min(math.mininteger, -2^63), math.abs(-2^63))
--- floor of strings
print(math.floor("3.7"), pcall(math.floor, "x"), math.ceil("2"))
--- large ceil values stay floats
print(math.ceil(2^63), math.floor(-2^63), math.type(math.floor(-2^63)), math.type(math.ceil(2^63)))
--- exp and log full precision
print(string.format("%.17g %.17g %.17g %.17g", math.exp(10), math.log(3), math.log(7, 2), math.log(1000, 10)))
--- pow via the operator full precision
print(string.format("%.17g %.17g %.17g", 10 ^ 0.3, 2 ^ 0.1, 3 ^ -7.5))
--- trigonometric inverse full precision
print(string.format("%.17g %.17g %.17g", math.asin(0.3), math.acos(0.3), math.atan(0.3)))
--- compatibility functions atan2 frexp log10 sinh tanh
print(math.atan2(1, 1) == math.atan(1, 1), math.frexp(8), math.frexp(0.3), math.log10(1000), math.frexp(-0.0))
print(string.format("%.14g %.14g %.14g", math.sinh(1), math.tanh(0.5), math.cosh(1)))
--- frexp and ldexp round trip
local m, e = math.frexp(123.456)
print(m, e, math.ldexp(m, e), math.frexp(math.huge), math.ldexp(1, 1024))
