-- Paths in the full profile behave as on Linux: the empty path does not
-- exist, a directory opens for reading but reads fail with "Is a
-- directory", and opening one for writing fails; errno numbers are
-- Linux's. Both sides run in the repository's root.
--- io.open of the empty path
local f, message, code = io.open("")
print(f, message, math.type(code))
print((select(2, io.open("", "w"))), (select(2, io.open("", "a+"))))
--- io.lines and io.input of the empty path
print(pcall(io.lines, ""))
print(pcall(io.input, ""))
--- loadfile and dofile of the empty path
print(loadfile(""))
print(pcall(dofile, ""))
--- package.searchpath with an empty template finds nothing
print(package.searchpath("x", ""))
print(package.searchpath("", ""))
print(package.searchpath("x", ";;"))
--- package.searchpath finds files and directories
print(package.searchpath("conformance", "tests/?"))
print(package.searchpath("conformance.files", "./tests/?.lua"))
print(package.searchpath("no-such-module", "./?.lua;./?/init.lua"))
--- os.remove and os.rename of the empty path
print((select(2, os.remove(""))))
print((select(2, os.rename("", "not-created"))))
print((select(2, os.rename("tests/no-such-file", ""))))
--- a directory opens for reading, but reading it fails
local f = assert(io.open("tests"))
print(io.type(f))
local data, message = f:read("a")
print(data, message)
print((f:read("l")), (select(2, f:read(1))))
f:close()
--- a directory does not open for writing
local f, message = io.open("tests", "w")
print(f, message)
print((select(2, io.open("tests", "a"))), (select(2, io.open("tests", "r+"))))
--- io.lines of a directory fails at the first line
print(pcall(function() for line in io.lines("tests") do print(line) end end))
--- loadfile and dofile of a directory
print(loadfile("tests"))
print(pcall(dofile, "tests"))
--- paths that do not exist
print((select(2, io.open("tests/no-such-file"))))
print((select(2, io.open("no-such-folder/file", "w"))))
print(loadfile("tests/no-such-file.lua"))
--- errno numbers as Linux numbers them
print(select(3, io.open("")), select(3, io.open("tests", "w")), select(3, io.open("README.md/")))
local f = io.open("tests")
print(select(3, f:read("a")))
f:close()
print(select(3, os.remove("")), select(3, os.rename("tests/no-such-file", "x")))
print(select(3, io.open("tests/no-such-file")), select(3, io.open("no-such-folder/file", "w")))
