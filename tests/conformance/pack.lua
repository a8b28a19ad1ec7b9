-- string.pack, string.unpack and string.packsize.
local function hex(s) return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end)) end
--- pack integers little and big endian
local function hex(s) return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end)) end
print(hex(string.pack("<i4", 1)), hex(string.pack(">i4", 1)), hex(string.pack("<i2", -2)), hex(string.pack(">I3", 0x010203)))
--- pack and unpack round trip
local s = string.pack("i1i2i4i8", -1, -2, -3, -4)
print(#s, string.unpack("i1i2i4i8", s))
--- unsigned limits
local function hex(s) return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end)) end
print(hex(string.pack("B", 255)), pcall(string.pack, "B", 256), pcall(string.pack, "b", 128))
print(string.unpack("B", "\255"), string.unpack("b", "\255"), string.unpack("<H", "\255\255"))
--- pack overflow checks
print(pcall(string.pack, "i2", 32768), pcall(string.pack, "I2", -1))
print(pcall(string.pack, "i17", 1))
--- sizes of fixed formats
print(string.packsize("b"), string.packsize("h"), string.packsize("i"), string.packsize("j"), string.packsize("f"), string.packsize("d"), string.packsize("n"))
--- size of C long [differs: 32-bit-long]
print(string.packsize("l"), string.packsize("L"), #string.pack("l", 1))
--- size_t dependent sizes [differs: 32-bit-size_t]
print(string.packsize("T"), string.packsize("!"), string.packsize("!T"))
--- pack T with a 32-bit size_t [differs: 32-bit-size_t]
print(#string.pack("T", 1), #string.pack("s", "abc"))
--- pack floats and doubles
local function hex(s) return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end)) end
print(hex(string.pack("<d", 1.5)), hex(string.pack(">f", -2)), string.unpack("<d", string.pack("<d", 0.1)))
print(string.unpack("<f", string.pack("<f", 0.1)))
--- pack n and j
print(string.unpack("j", string.pack("j", math.mininteger)), string.unpack("n", string.pack("n", math.pi)))
--- pack strings with length prefixes
local function hex(s) return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end)) end
print(hex(string.pack("s1", "abc")), hex(string.pack(">s2", "hi")), string.unpack("s1", "\3abcdef"))
print(pcall(string.pack, "s1", string.rep("x", 256)))
--- pack zero-terminated strings
print(#string.pack("z", "abc"), string.unpack("zz", "ab\0cd\0"), pcall(string.pack, "z", "a\0b"))
print(pcall(string.unpack, "z", "abc"))
--- pack fixed-size strings
print(string.pack("c5", "ab") == "ab\0\0\0", string.unpack("c2c3", "abcde"), pcall(string.pack, "c2", "abc"))
--- alignment with !
local function hex(s) return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end)) end
print(hex(string.pack("!4 b i4", 1, 2)), string.packsize("!8 b d"), string.packsize("!2 b h b"))
print(pcall(string.pack, "!3 i4", 1))
--- padding with x and X
local function hex(s) return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end)) end
print(hex(string.pack("bxb", 1, 2)), string.packsize("b Xi4 i4"), hex(string.pack("<!4 b Xi4 i4", 1, 2)))
print(pcall(string.packsize, "X"), pcall(string.pack, "Xz", 1))
--- unpack with position
local s = string.pack("i2i2i2", 1, 2, 3)
print(string.unpack("i2", s, 3), string.unpack("i2", s, -2))
print(pcall(string.unpack, "i2", s, 7), pcall(string.unpack, "i4", "ab"))
--- unpack returns the next position
print(select("#", string.unpack("bbb", "abc")), select(4, string.unpack("bbb", "abc")))
--- unpack of big integers that do not fit
print(pcall(string.unpack, "<i9", string.rep("\255", 8) .. "\127"))
print(string.unpack("<i9", string.rep("\255", 9)), string.unpack("<I9", string.rep("\255", 8) .. "\0"))
--- pack with spaces and endianness switches
local function hex(s) return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end)) end
print(hex(string.pack(" < i2 > i2 = i2 ", 1, 1, 1)))
--- packsize errors for variable formats
print(pcall(string.packsize, "s"), pcall(string.packsize, "z"))
--- invalid format options
print(pcall(string.pack, "y", 1), pcall(string.pack, "i0", 1))
--- pack coerces numbers
print(string.unpack("i4", string.pack("i4", "42")), string.unpack("d", string.pack("d", 3)))
print(pcall(string.pack, "i4", 1.5), pcall(string.pack, "i4", "x"))
--- unpack of floats keeps specials
print(string.unpack("d", string.pack("d", math.huge)), string.unpack("d", string.pack("d", -0.0)))
--- many values
local vals = {}
for i = 1, 50 do vals[i] = i * 3 end
local s = string.pack(string.rep("i2", 50), table.unpack(vals))
local out = {string.unpack(string.rep("i2", 50), s)}
print(#s, out[1], out[50], out[51])
