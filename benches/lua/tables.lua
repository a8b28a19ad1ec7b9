-- tables: builds N records, indexes them by string and by sparse integer
-- keys, sorts them with a comparator, walks them with ipairs and churns a
-- work list with table.insert/remove. Measures table access and resizing.

return {
  run = function(self, arg)
    local n = math.tointeger(tonumber(arg))
    local recs, byname, bykey = {}, {}, {}
    for i = 1, n do
      local r = { id = i, name = "item" .. i, score = (i * 7919) % 1009 }
      table.insert(recs, r)
      byname[r.name] = r
      bykey[i * 40503] = r
    end

    -- look-ups by both kinds of key
    local acc = 0
    for i = 1, n do
      local r = byname["item" .. ((i * 31) % n + 1)]
      acc = acc + r.score + bykey[r.id * 40503].id
    end

    -- sort: score descending, then id ascending (a total order, so deterministic)
    table.sort(recs, function(a, b)
      if a.score ~= b.score then return a.score > b.score end
      return a.id < b.id
    end)
    for i, r in ipairs(recs) do acc = acc + (i * r.id) % 9973 end

    -- a bounded work list: push, pop on some records, drop the oldest when full
    local list = {}
    for _, r in ipairs(recs) do
      table.insert(list, r.id)
      if r.score % 3 == 0 then acc = acc + table.remove(list) end
      if #list > 50 then acc = acc + table.remove(list, 1) * 2 end
      if r.score % 5 == 0 then table.insert(list, 1, r.score) end
    end
    for _, v in ipairs(list) do acc = acc + v end

    -- group ids by score bucket under string keys, then delete half the names
    local buckets = {}
    for _, r in ipairs(recs) do
      local key = "b" .. r.score % 17
      local b = buckets[key]
      if b == nil then b = {}; buckets[key] = b end
      b[#b + 1] = r.id
    end
    for k = 0, 16 do
      local b = buckets["b" .. k]
      if b then acc = acc + #b * (k + 1) + b[1] + b[#b] end
    end
    for i = 1, n, 2 do byname["item" .. i] = nil end
    local left = 0
    for i = 2, n, 2 do left = left + byname["item" .. i].score end
    return string.format("n=%d acc=%d left=%d", n, acc, left)
  end,
}
