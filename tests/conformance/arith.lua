-- Integer and float arithmetic, overflow wrap-around, floor division and
-- modulo on negatives, bitwise operators, comparisons and conversions.
--- integer overflow wraps around
print(math.maxinteger + 1 == math.mininteger, math.mininteger - 1 == math.maxinteger)
print(math.maxinteger * 2, math.mininteger * -1, -math.mininteger)
--- integer multiplication wraps
print(0x7fffffff * 0x7fffffff, 3037000500 * 3037000500)
--- floor division on negatives
print(7 // 2, -7 // 2, 7 // -2, -7 // -2)
print(7.0 // 2, -7.0 // 2, 7 // -2.0, -7.5 // 2)
--- modulo on negatives
print(7 % 3, -7 % 3, 7 % -3, -7 % -3)
print(7.5 % 2, -7.5 % 2, 7.5 % -2, -7.5 % -2)
print(5 % math.huge, -5 % math.huge, 5 % -math.huge, -5 % -math.huge)
--- integer division by zero is an error
print(pcall(function() return 1 // 0 end))
print(pcall(function() return 1 % 0 end))
--- float division by zero
print(1 / 0, -1 / 0, 1.0 // 0, -1 // 0.0)
print(1 % 0.0 ~= 1 % 0.0)
--- mininteger divided by -1
print(math.mininteger // -1, math.mininteger % -1)
--- division always gives floats
print(4 / 2, 7 / 2, math.type(4 / 2), 0 / 1, -0 / 1)
--- exponentiation gives floats
print(2 ^ 10, 2 ^ 0.5 == math.sqrt(2), (-8) ^ (1/3) ~= (-8) ^ (1/3), 2 ^ -1, 0 ^ 0)
--- integer and float equality
print(1 == 1.0, math.type(1), math.type(1.0), 2^53 == 2^53 + 1, math.maxinteger + 0.0 == math.maxinteger)
print(math.maxinteger < math.maxinteger + 0.0, math.mininteger == math.mininteger + 0.0)
--- mixed comparisons near 2^63
print(2^63 > math.maxinteger, -2^63 >= math.mininteger, -2^63 < math.mininteger)
print(math.maxinteger + 1.0 > math.maxinteger, 9007199254740993 < 9007199254740992.0)
--- NaN comparisons
local nan = 0 / 0
print(nan == nan, nan ~= nan, nan < 1, nan > 1, 1 < nan, nan <= nan)
--- bitwise operators on integers
print(0xF0 & 0x3C, 0xF0 | 0x0F, 0xF0 ~ 0xFF, ~0, ~5)
print(1 << 63, 1 << 64, 1 << -1, -1 >> 1, -1 >> 63, 2 >> -1)
print(1 << 62 << 1, (1 << 63) >> 63)
--- bitwise operators on floats with integral values
print(3.0 & 1, 2.0 | 1.0, pcall(function() return "3" & 1 end))
print(pcall(function() return 1.5 & 1 end))
print(pcall(function() return "1.5" | 0 end))
--- bitwise errors name the operand
print(pcall(function() local t = {} return t & 1 end))
print(pcall(function() return 2^63 | 0 end))
--- unary minus and not
print(-(-3), - -3.5, not nil, not 0, -math.mininteger == math.mininteger)
--- string arithmetic coercions
print("10" + 1, "3.5" * 2, "0x10" + 0, "1e1" - 1, " 5 " // 2, "-2" ^ 2)
print(math.type("10" + 1), math.type("10" + 1.0), math.type("10.0" + 1))
print(pcall(function() return "abc" + 1 end))
print(pcall(function() return {} + 1 end))
--- integer/float conversion in for loops
for i = 1, 3 do io.write(math.type(i), " ") end print()
for i = 1.0, 3 do io.write(math.type(i), " ") end print()
for i = 1, 2, 0.5 do io.write(i, " ") end print()
--- for loop near maxinteger does not overflow
local n = 0
for i = math.maxinteger - 2, math.maxinteger do n = n + 1 end
print(n)
for i = math.mininteger, math.mininteger + 2 do n = n + 1 end
print(n)
for i = math.mininteger + 2, math.mininteger, -1 do n = n + 1 end
print(n)
--- for loop with zero step is an error
print(pcall(function() for i = 1, 10, 0 do end end))
--- for loop with float limits and integer start
local c = 0
for i = 1, 3.7 do c = c + 1 end
print(c)
for i = 3, 1.5, -1 do c = c + 1 end
print(c)
for i = 1, math.huge do c = c + 1 if c > 10 then break end end
print(c)
--- for loop with huge negative float limit
local c = 0
for i = 1, -math.huge do c = c + 1 end
print(c)
--- math.tointeger
print(math.tointeger(3.0), math.tointeger(3.5), math.tointeger("8"), math.tointeger(2^63), math.tointeger(-2^63))
--- float to integer in table keys
local t = {}
t[1.0] = "a"; t[2] = "b"; t[2^53] = "c"
print(t[1], t[2.0], t[2^53 | 0], next({[3.0] = true}))
--- integer literals that overflow become floats
print(9223372036854775807, 9223372036854775808, -9223372036854775808, math.type(9223372036854775808))
print(0xffffffffffffffff, 0x7fffffffffffffff, 0x10000000000000000)
--- hex float literals
print(0x1p4, 0x.8, 0xA.8p1, 0x1P-2, 0x.1p4)
--- float precision sums
print(0.1 + 0.2 == 0.3, 0.1 + 0.2, 1e16 + 1, 2^53 + 1)
--- negative zero
print(-0.0, 0.0 == -0.0, 1 / -0.0, math.type(-0), -0 == 0)
--- large exponents
print(2^1023 * 2, -2^1023 * 2, 2^-1074, 2^-1075, 1e308 * 10)
--- comparison of strings
print("a" < "b", "a" < "B", "abc" < "abd", "" < "a", "a\0b" < "a\0c", "Z" < "a")
print(pcall(function() return 1 < "2" end))
print(pcall(function() return {} < {} end))
--- concatenation of numbers
print(1 .. 2, 1.5 .. "|", 2^63 .. "", math.mininteger .. "")
--- integer division and modulo identity
local ok = true
for a = -7, 7 do for b = -3, 3 do if b ~= 0 then
  if a // b * b + a % b ~= a then ok = false end
end end end
print(ok)
--- float modulo sign follows divisor
print(math.fmod(-7, 3), -7 % 3, math.fmod(7, -3), 7 % -3, -7.25 % 1, 7.25 % -1)
--- string to number edge cases
print("0x7fffffffffffffff" + 0, "9223372036854775808" + 0, "1e500" + 0, "-0" + 0, "0x1p-2" + 0)
