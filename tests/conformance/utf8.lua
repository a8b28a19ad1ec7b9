-- The utf8 library.
--- char and charpattern
print(utf8.char(72, 228, 8364, 128512), utf8.char(), utf8.charpattern)
print(#utf8.char(0x7FFFFFFF), pcall(utf8.char, -1), pcall(utf8.char, 0x80000000))
--- codepoint ranges
print(utf8.codepoint("häll€", 1, -1))
print(utf8.codepoint("abc", 2), pcall(utf8.codepoint, "abc", 4), select("#", utf8.codepoint("abc", 3, 2)))
--- codepoint errors on invalid bytes
print(pcall(utf8.codepoint, "\xff"))
print(pcall(utf8.codepoint, "\xe4"))
--- len of valid and invalid strings
print(utf8.len("häll€"), utf8.len(""), utf8.len("abc", 2), utf8.len("abc", 4), utf8.len("häll€", -3))
print(utf8.len("ab\xffcd"), utf8.len("\xe4"), pcall(utf8.len, "abc", 5))
--- len in lax mode
print(utf8.len("\u{7FFFFFFF}"), utf8.len("\u{7FFFFFFF}", 1, -1, true), utf8.len("\xed\xa0\x80"), utf8.len("\xed\xa0\x80", 1, -1, true))
--- offset forwards and backwards
local s = "aä€😀b"
print(utf8.offset(s, 1), utf8.offset(s, 2), utf8.offset(s, 3), utf8.offset(s, 4), utf8.offset(s, 5), utf8.offset(s, 6), utf8.offset(s, 7))
print(utf8.offset(s, -1), utf8.offset(s, -2), utf8.offset(s, 0, 4), utf8.offset(s, 0, 3))
print(pcall(utf8.offset, s, 1, 3))
--- codes iteration
for p, c in utf8.codes("aä€") do io.write(p, ":", c, " ") end print()
print(pcall(function() for p, c in utf8.codes("a\xffb") do end end))
--- codes in lax mode
for p, c in utf8.codes("\u{D800}x", true) do io.write(p, ":", c, " ") end print()
print(pcall(function() for p, c in utf8.codes("\u{D800}") do end end))
--- surrogates and overlong encodings
print(utf8.len("\xc0\x80"), utf8.len("\xed\xa0\x80"), utf8.len("\xf4\x90\x80\x80"), utf8.len("\xf4\x90\x80\x80", 1, -1, true))
--- charpattern matches every character
local n = 0
for c in ("aä€😀"):gmatch(utf8.charpattern) do n = n + 1 end
print(n)
--- codepoint in lax mode of large values
print(utf8.codepoint("\u{7FFFFFFF}", 1, 1, true), pcall(utf8.codepoint, "\u{7FFFFFFF}"))
--- decoding bytes 0xFE and 0xFF in lax mode
print(utf8.len("\xfe\x80\x80\x80\x80\x80\x80", 1, -1, true))
print(utf8.len("\xff", 1, -1, true), utf8.len("\xfe", 1, -1, true))
--- continuation byte at the start
print(utf8.len("\x80abc"), pcall(utf8.offset, "\x80abc", 1))
print(pcall(utf8.codepoint, "\x80"))
--- utf8 escapes in literals
print("\u{48}\u{49}" == "HI", #"\u{80}", #"\u{800}", #"\u{10000}", #"\u{200000}", #"\u{4000000}")
--- offset at string ends
print(utf8.offset("abc", 4), utf8.offset("abc", 5), utf8.offset("", 1), utf8.offset("", -1), utf8.offset("abc", -4))
--- char of many codepoints
local cps = {}
for i = 1, 20 do cps[i] = 0x3B0 + i end
local s = utf8.char(table.unpack(cps))
print(s, utf8.len(s), #s)
