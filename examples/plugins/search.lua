-- An in-memory search index (SearchClientPlugin): documents are JSON
-- objects, a query matches documents whose string fields contain every
-- word, filters are exact field matches. Errors start with a code:
-- `index_not_found`, `bad_query`, `access_denied`.
local indexes = { posts = {} }

local function haystack(fields)
  local parts = {}
  for _, v in pairs(fields) do
    if type(v) == "string" then parts[#parts + 1] = v:lower() end
  end
  return table.concat(parts, " ")
end

local function index_named(name)
  local idx = indexes[name]
  if not idx then error("index_not_found: " .. name, 0) end
  return idx
end

return {
  search = function(self, index, query_json)
    local idx = index_named(index)
    local q = bext.json.decode(query_json)
    if #q.text > 200 then error("bad_query: query too long", 0) end
    local hits, total = bext.json.array(), 0
    for id, doc in pairs(idx) do
      local text, score, ok = haystack(doc), 0, true
      for word in q.text:lower():gmatch("%S+") do
        if text:find(word, 1, true) then score = score + 1 else ok = false end
      end
      for _, f in ipairs(q.filters) do
        if doc[f[1]] ~= f[2] then ok = false end
      end
      if ok then
        total = total + 1
        hits[#hits + 1] = { id = id, score = score, source_json = bext.json.encode(doc) }
      end
    end
    table.sort(hits, function(a, b) return a.score > b.score or (a.score == b.score and a.id < b.id) end)
    local page = bext.json.array()
    local limit = q.limit > 0 and q.limit or 10
    for i = q.offset + 1, math.min(#hits, q.offset + limit) do page[#page + 1] = hits[i] end
    return { hits = page, total = total, took_ms = 0 }
  end,

  index = function(self, index, docs_json)
    if not indexes[index] then indexes[index] = {} end
    for _, doc in ipairs(bext.json.decode(docs_json)) do
      indexes[index][doc.id] = bext.json.decode(doc.fields_json)
    end
  end,

  delete = function(self, index, ids_json)
    local idx = index_named(index)
    for _, id in ipairs(bext.json.decode(ids_json)) do idx[id] = nil end
  end,
}
