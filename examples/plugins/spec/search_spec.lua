describe("search", function()
  local plugin = load_plugin("../search.lua")
  plugin:index("posts", {
    { id = "p1", fields_json = bext.json.encode({ title = "Lua in the sandbox", lang = "en" }) },
    { id = "p2", fields_json = bext.json.encode({ title = "Lua et WebAssembly", lang = "fr" }) },
  })

  it("finds documents by words and filters", function()
    local results = plugin:search("posts", { text = "lua", filters = {}, limit = 10, offset = 0 })
    assert.equals(2, results.total)
    local french = plugin:search("posts", { text = "lua", filters = { { "lang", "fr" } }, limit = 10, offset = 0 })
    assert.equals("p2", french.hits[1].id)
  end)

  it("deletes documents", function()
    plugin:delete("posts", { "p1" })
    assert.equals(1, plugin:search("posts", { text = "lua", filters = {}, limit = 0, offset = 0 }).total)
  end)

  it("reports an unknown index with its code", function()
    assert.error_matches(function()
      plugin:search("nope", { text = "x", filters = {}, limit = 1, offset = 0 })
    end, "index_not_found: nope")
  end)
end)
