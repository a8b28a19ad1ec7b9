-- The table library: concat, insert, move, pack, remove, sort, unpack.
--- concat basics
print(table.concat({1, 2, 3}), table.concat({1, 2, 3}, ", "), table.concat({}, "x"), table.concat({"a"}, "x"))
print(table.concat({1, 2, 3, 4}, "-", 2, 3), table.concat({1, 2}, "-", 3), table.concat({1.5, 2, "s"}, " "))
--- concat errors
print(pcall(table.concat, {1, {}, 3}))
print(pcall(table.concat, {1, nil, 3}, ",", 1, 3))
--- insert at the end and in the middle
local t = {1, 2, 3}
table.insert(t, 4); table.insert(t, 1, 0); table.insert(t, 3, "x")
print(table.concat(t, ","))
--- insert position errors
local t = {1, 2, 3}
print(pcall(table.insert, t, 5, "x"), pcall(table.insert, t, 0, "x"), pcall(table.insert, t, 1, 2, 3))
print(pcall(table.insert, t))
--- remove from the end, middle and empty tables
local t = {1, 2, 3, 4}
print(table.remove(t), table.remove(t, 1), table.concat(t, ","), table.remove({}), table.remove({}, 0))
print(pcall(table.remove, {1, 2}, 5))
local t = {1}
print(table.remove(t, 2), #t, table.remove(t, 1), #t)
--- move within one table
local t = {1, 2, 3, 4, 5}
table.move(t, 2, 4, 1)
print(table.concat(t, ","))
local t = {1, 2, 3, 4, 5}
table.move(t, 1, 3, 3)
print(table.concat(t, ","))
--- move to another table
local a, b = {1, 2, 3}, {"a", "b", "c", "d"}
print(table.move(a, 1, 3, 2, b) == b, table.concat(b, ","))
print(#table.move({}, 1, 0, 1, {9}))
--- move with metamethods
local log = {}
local src = setmetatable({}, {__index = function(_, k) log[#log + 1] = "get" .. k return k * 10 end})
local dst = setmetatable({}, {__newindex = function(t, k, v) log[#log + 1] = "set" .. k rawset(t, k, v) end})
table.move(src, 1, 3, 1, dst)
print(table.concat(log, " "), dst[1], dst[3])
--- move errors on overflow
print(pcall(table.move, {}, 1, math.maxinteger, 2))
print(pcall(table.move, {}, -1, math.maxinteger, 1))
--- pack and unpack
local p = table.pack(1, nil, 3)
print(p.n, p[1], p[2], p[3])
print(table.unpack({1, 2, 3}), table.unpack({1, 2, 3}, 2), table.unpack({1, 2, 3}, 2, 5))
print(select("#", table.unpack({}, 1, 0)), select("#", table.unpack({}, 1, 3)))
--- unpack with too many results
print(pcall(table.unpack, {}, 1, 1e7))
print(pcall(table.unpack, {}, math.mininteger, math.maxinteger))
--- sort numbers and strings
local t = {5, 2, 8, 1, 9, 3}
table.sort(t)
print(table.concat(t, ","))
local s = {"banana", "apple", "Cherry", "date"}
table.sort(s)
print(table.concat(s, ","))
--- sort with a comparator
local t = {5, 2, 8, 1, 9, 3}
table.sort(t, function(a, b) return a > b end)
print(table.concat(t, ","))
--- sort records by two keys
local people = {{"bob", 30}, {"alice", 25}, {"carol", 30}, {"dave", 25}, {"eve", 35}}
table.sort(people, function(a, b) if a[2] ~= b[2] then return a[2] < b[2] end return a[1] < b[1] end)
for _, p in ipairs(people) do io.write(p[1], p[2], " ") end print()
--- sort a large array deterministically
local t = {}
local x = 12345
for i = 1, 2000 do x = (x * 1103515245 + 12345) % 2147483648 t[i] = x end
table.sort(t)
local ok = true
for i = 2, #t do if t[i - 1] > t[i] then ok = false end end
print(ok, t[1], t[1000], t[2000])
--- sort a large array with a comparator
local t = {}
for i = 1, 1000 do t[i] = (i * 7919) % 1009 end
table.sort(t, function(a, b) return a > b end)
print(t[1], t[500], t[1000])
--- sort with an invalid order function
local t = {}
for i = 1, 100 do t[i] = i % 7 end
print(pcall(table.sort, t, function(a, b) return true end))
--- sort mixed types fails
print(pcall(table.sort, {1, "x", 2}))
--- sort with __lt metamethods
local mt = {__lt = function(a, b) return a.v < b.v end}
local t = {}
for i, v in ipairs({3, 1, 2}) do t[i] = setmetatable({v = v}, mt) end
table.sort(t)
print(t[1].v, t[2].v, t[3].v)
--- length of tables with holes at the border
local t = {1, 2, 3}
t[#t + 1] = 4
t[#t] = nil
print(#t, #{n = 1}, #{nil, nil, 3} == 3 or #{nil, nil, 3} == 0)
--- table functions respect __index and __newindex
local backing = {1, 2, 3}
local proxy = setmetatable({}, {__index = backing, __newindex = backing, __len = function() return #backing end})
table.insert(proxy, 4)
print(#backing, table.concat(proxy, ","), table.unpack(proxy))
--- table.remove shifts down
local t = {"a", "b", "c", "d"}
print(table.remove(t, 2), table.concat(t, ""), #t)
--- table.insert with float positions
local t = {1, 2, 3}
table.insert(t, 2.0, "x")
print(table.concat(t, ","), pcall(table.insert, t, 1.5, "y"))
--- table constructors with varargs
local function f(...) return {...}, {..., "end"}, {"start", ...} end
local a, b, c = f(1, 2, 3)
print(#a, #b, #c, b[2], c[4])
--- nested tables and table identity
local a = {}
local t = {a, a, {a}}
print(t[1] == t[2], t[3][1] == a, t[1] == {})
--- concat of numbers uses their string forms
print(table.concat({1, 2.0, -0.0, 1e100, math.mininteger}, " "))
