-- Throughput of bext.json on four document shapes (tests/json.rs, `throughput`).
local function bench(name, text, n)
  local t0 = os.clock()
  for i = 1, n do bext.json.decode(text) end
  local t1 = os.clock()
  local doc = bext.json.decode(text)
  for i = 1, n do bext.json.encode(doc) end
  local t2 = os.clock()
  return string.format("%s: %d bytes decode %.1f MB/s encode %.1f MB/s\n", name, #text, #text * n / (t1 - t0) / 1e6, #text * n / (t2 - t1) / 1e6)
end
local ints, floats, strs, objs = {}, {}, {}, {}
for i = 1, 20000 do ints[i] = tostring(i * 7919) floats[i] = string.format("%d.25", i) strs[i] = '"item number ' .. i .. ' with some text"' objs[i] = string.format('{"id":%d,"name":"n%d","ok":true}', i, i) end
return bench("ints", "[" .. table.concat(ints, ",") .. "]", 5)
  .. bench("floats", "[" .. table.concat(floats, ",") .. "]", 5)
  .. bench("strings", "[" .. table.concat(strs, ",") .. "]", 5)
  .. bench("objects", "[" .. table.concat(objs, ",") .. "]", 5)
