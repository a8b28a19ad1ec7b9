-- The string library (without dump): every function, patterns and captures.
--- byte and char
print(string.byte("ABC"), string.byte("ABC", 2), string.byte("ABC", -1), string.byte("ABC", 1, -1))
print(string.byte("ABC", 10), string.byte(""), string.char(), string.char(72, 105))
print(pcall(string.char, 256), pcall(string.char, -1))
--- byte with out-of-range indices
print(string.byte("hello", -100, 100))
print(select("#", string.byte("hello", 3, 2)))
--- len and the length operator
print(string.len(""), string.len("abc"), #"a\0b", ("x"):len())
--- lower upper reverse
print(string.lower("HeLLo 123"), string.upper("HeLLo 123"), string.reverse("abc"), string.reverse(""))
--- rep with separators
print(string.rep("ab", 3), string.rep("ab", 3, ","), string.rep("x", 0), string.rep("x", -1), string.rep("", 5))
print(string.rep("a", 1, "sep"), string.rep("a", 2, ""))
--- sub with every kind of index
local s = "hello world"
print(s:sub(1, 5), s:sub(7), s:sub(-5), s:sub(-5, -2), s:sub(0), s:sub(5, 1), s:sub(100), s:sub(-100, 2))
print(s:sub(math.mininteger, math.maxinteger), s:sub(2, math.mininteger))
--- find plain and pattern
print(("hello world"):find("o w"), ("hello"):find("l"), ("hello"):find("xyz"), ("a.b"):find(".", 1, true))
print(("hello"):find("l", -2), ("hello"):find("", 10), ("hello"):find("", 6), ("hello"):find("h", 0))
--- find returns captures
print(("key = value"):find("(%w+)%s*=%s*(%w+)"))
print(("abc"):find("()b()"))
--- match basics
print(("hello 123 world"):match("%d+"), ("hello"):match("(h)(e)(l)"), ("hello"):match("x"))
print(("  trim me  "):match("^%s*(.-)%s*$"))
print(("2024-01-15"):match("(%d+)-(%d+)-(%d+)"))
--- match with init
print(("abcabc"):match("b", 3), ("abcabc"):match("^b", 2), ("abc"):match(".", -1))
--- character classes
local s = "aZ9_ \t.!\n\0"
for _, class in ipairs({"%a", "%c", "%d", "%g", "%l", "%p", "%s", "%u", "%w", "%x"}) do
  io.write(class, "=", (s:gsub("[^" .. class .. "]", "")):len(), " ")
end
print()
--- negated classes and sets
print(("abc123XYZ"):gsub("%A", "."), ("abc123XYZ"):gsub("[^%d]", "."), ("a-b]c"):gsub("[%]%-]", "#"))
print(("hello"):gsub("[a-f]", "*"), ("hello"):gsub("[^a-f]", "*"))
--- quantifiers
print(("aaa"):match("a-"), ("aaa"):match("a-$"), ("aaa"):match("a*"), ("aaa"):match("a+"), ("b"):match("a?b"))
print(("<<a>><<b>>"):match("<<(.-)>>"), ("<<a>><<b>>"):match("<<(.*)>>"))
--- anchors
print(("hello"):match("^h"), ("hello"):match("^e"), ("hello"):match("o$"), ("a$b"):match("%$"), ("^a"):match("%^a"))
--- balanced match
print(("f(a(b)c) g(d)"):match("%b()"), ("[[x]]"):match("%b[]"), ("no parens"):match("%b()"))
print(("THE (quick) fox"):gsub("%b()", ""))
--- frontier pattern
print(("THE (quick) fox"):find("%f[%a]%a+%f[%A]"))
print(("hello world from lua"):gsub("%f[%w]%w+", function(w) return w:upper() end))
print(("aaa bbb"):match("%f[%l]b+"))
--- back references
print(('say "hi" and \'bye\''):match("([\"'])(.-)%1"))
print(("abcabc"):match("(abc)%1"), ("xyyx"):match("(.)(.)%2%1"))
--- position captures
print(("hello"):match("()ll()"))
print(("hello"):gsub("()", "%1"))
--- gsub with string replacement
print(("hello world"):gsub("o", "0"), ("hello"):gsub("l", "L", 1), ("abc"):gsub("", "-"))
print(("hello world"):gsub("(%w+)", "<%1>"), ("abc"):gsub("%w", "%0%0"))
print(pcall(string.gsub, "abc", "(a)", "%2"))
--- gsub with table and function replacement
local t = {name = "lua", version = "5.4"}
print(("$name $version $missing"):gsub("%$(%w+)", t))
print(("1 2 3"):gsub("%d", function(d) return d * 2 end))
print(("a b c"):gsub("%a", function(c) if c == "b" then return false end return c:upper() end))
--- gsub replacement escapes
print(("x"):gsub("x", "%%"), pcall(string.gsub, "x", "x", "%"))
--- gsub with invalid replacement value
print(pcall(string.gsub, "abc", "b", function() return {} end))
--- gsub with a max count
print(("aaaa"):gsub("a", "b", 2), ("aaaa"):gsub("a", "b", 0), ("aaaa"):gsub("a", "b", -1))
--- gmatch iteration
for k, v in ("a=1, b=2, c=3"):gmatch("(%w+)=(%w+)") do io.write(k, ":", v, " ") end print()
for w in ("one two  three"):gmatch("%S+") do io.write("[", w, "]") end print()
--- gmatch with anchor and init
for w in ("aaa"):gmatch("^a") do io.write(w, ";") end print()
for w in ("hello world"):gmatch("%a+", 7) do io.write(w) end print()
--- gmatch with empty matches
local n = 0
for w in ("abc"):gmatch("x*") do n = n + 1 end
print(n)
--- malformed patterns
print(pcall(string.find, "a", "[a"))
print(pcall(string.find, "a", "%"))
print(pcall(string.find, "a", "(()"))
print(pcall(string.find, "a", "%b"))
print(pcall(string.match, "a", "%f"))
--- too many captures
print(pcall(string.match, string.rep("a", 40), string.rep("(a)", 33)))
--- pattern matching with special characters
print(("a+b=c"):gsub("%+", " plus "), ("1.5"):match("^%d+%.%d+$"), ("x*y"):find("*", 1, true))
--- string methods via metatable
local s = "Method"
print(s:upper(), s:len(), ("%d"):format(5), (s):byte(1))
--- string comparison and concatenation with numbers
print("10" < "9", 10 < 9, "a" .. 1 .. 2.0)
--- escapes in string literals
print("\65\066\x43\u{44}\u{10FFFF}" == "ABCD\xF4\x8F\xBF\xBF", "a\z
      b", "\'\"\\", #"\u{7FFFFFFF}")
--- long strings
local s = [[
first
second]]
print(s, #s, [==[a]]b]==])
--- string.format inside gsub callbacks
print(("1,2,3"):gsub("%d", function(d) return ("%03d"):format(d) end))
--- string.len on very long strings
local big = string.rep("abc", 100000)
print(#big, big:sub(-3), select(2, big:gsub("abc", "")))
--- find with special characters in plain mode
print(("a[b](c)"):find("[b]", 1, true), ("a%b"):find("%", 1, true), ("a.b"):find("."))
--- gsub anchored
print(("aaa"):gsub("^a", "b"), ("hello hello"):gsub("^hello", "bye"))
--- match returning whole match without captures
print(("abc123"):match("%a+%d+"), ("key:value"):match(":(.*)"))
--- string.rep too large
print(pcall(string.rep, "x", math.maxinteger))
--- upper and lower on non-ASCII bytes are unchanged
print(string.upper("\xe9\xe8") == "\xe9\xe8", string.lower("ÀB"))
