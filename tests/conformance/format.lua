-- Number formatting: tostring, %g, %a, %.14g, %d/%x/%o, %q and friends.
--- tostring of integral floats
print(1.0, -1.0, 1e15, 1e16, 123456789012345.0, 2^53, 2^63, -2^63)
--- tostring of fractional floats
print(0.1, 1/3, -2/3, 3.14159265358979, 1e-5, 1.5e-300, 123.456e10)
--- tostring of infinities and huge
print(math.huge, -math.huge, 1e308, 2^1024, -2^1024)
--- tostring uses %.14g
print(0.1 + 0.2, 100000000000000, 1e14 + 0.5, 12345678901234567)
--- format %g
print(string.format("%g %g %g %g %g", 1, 1.5, 1e20, 1e-20, 100000))
print(string.format("%g %g %g", 1000000, 1234567, 0.0001234))
print(string.format("%G %G", 1e-10, 2.5e30))
--- format %g with precision and flags
print(string.format("%.3g|%10.3g|%-10.3g|%+g|% g|%#g", math.pi, math.pi, math.pi, 1, 1, 1))
print(string.format("%.0g %.1g %.20g", 0.5, 0.05, 0.1))
--- format %.14g and %.17g
print(string.format("%.14g %.14g %.14g", 0.1, 1/3, 2^63))
print(string.format("%.17g %.17g %.17g", 0.1, 1/3, 2^-1074))
--- format %a
print(string.format("%a %a %a %a", 1, 0.5, -2, 1e10))
print(string.format("%a %a", 0.1, 1/3))
print(string.format("%A", 255.5))
--- format %a of special values
print(string.format("%a %a %a", 0.0, math.huge, -math.huge))
--- format %a with precision
print(string.format("%.3a %.0a %.1a", 1/3, 1.5, 1))
--- format %a of subnormals [differs: libc-printf-a]
print(string.format("%a %a", 2^-1074, 2^-1022))
--- format %e and %f
print(string.format("%e %E %.2e %.0e", 12345.678, 0.000123, 1e100, 5e-5))
print(string.format("%f %.2f %.0f %10.3f %-10.1f|", math.pi, 2.675, 0.5, -1.5, 1e3))
print(string.format("%.3f %.3f %f", 1e15, 1/3, 2^53))
--- format %f of big values
print(string.format("%.0f", 1e300):len(), string.format("%.99f", 1/3):len())
--- format %d and %i
print(string.format("%d %i %5d %-5d| %05d %+d", 42, -42, 7, 7, 7, 7))
print(string.format("%d %d", math.maxinteger, math.mininteger))
print(string.format("%d", 3.0), pcall(string.format, "%d", 3.5))
print(pcall(string.format, "%d", "x"))
--- format %x %X %o
print(string.format("%x %X %o %#x %#o %08x", 255, 255, 8, 255, 8, 48879))
print(string.format("%x", -1), string.format("%X", math.mininteger))
--- format %c
print(string.format("%c%c%c", 76, 117, 97), #string.format("%c", 0))
--- format %s
print(string.format("%s %s %s %s", 1, 1.5, true, nil))
print(string.format("%5s|%-5s|%.2s", "ab", "ab", "abcdef"))
print(string.format("%s", setmetatable({}, {__tostring = function() return "TS" end})))
--- format %s with embedded zeros
local s = string.format("%s", "a\0b")
print(#s, s:byte(2))
--- format %q of strings
print(string.format("%q", 'he said "hi"\n\tand\\left\0z\1\0011\255'))
--- format %q of numbers
print(string.format("%q %q %q %q", 1, 1.5, math.mininteger, 2^63))
print(string.format("%q %q %q", 1/0, -1/0, 0.1))
--- format %q of other values
print(string.format("%q %q %q", true, false, nil))
print(pcall(string.format, "%q", {}))
--- format %%
print(string.format("100%% %s", "sure"))
--- format errors
print(pcall(string.format, "%y", 1))
print(pcall(string.format, "%", 1))
print(pcall(string.format, "%d"))
print(pcall(string.format, "%10.123f", 1))
--- format with too long specifier
print(pcall(string.format, "%0000000000000000000005d", 1))
--- format %i with width and precision
print(string.format("[%8.3i] [%-8.3d] [%.0d]", 5, 5, 0))
--- number to string coercion in string functions
print(("x"):rep(3), string.len(12345), string.upper(1.5), string.sub(123456, 2, 3))
--- string to number coercion keeps integers
print(math.type("10" * 1), math.type("10" * 1.0), math.type("0x10" // 1), math.type("1e1" // 1))
--- tostring of -nan and nan
local nan = 0 / 0
print(tostring(nan) == tostring(nan), string.format("%.1f", 1.25), string.format("%.1f", 1.35))
--- integer to float string conversions
print(3 | 0, 3.0 | 0, math.tointeger("0x10"), tostring(1e100 // 1))
--- format rounding
print(string.format("%.2f %.2f %.2f %.2f", 0.125, 0.375, 2.5, -0.005))
print(string.format("%.0f %.0f %.0f %.0f", 0.5, 1.5, 2.5, -0.5))
--- format %5.1s and padding of numbers
print(string.format("[%5.1s][%-6d][%6.2f][%-8g]", "xyz", 42, 3.14159, 1.5))
