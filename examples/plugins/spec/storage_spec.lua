describe("storage", function()
  local plugin
  before_each(function() plugin = load_plugin("../storage.lua", { config = { quota_bytes = 10, page_size = 1 } }) end)

  it("stores and returns bytes", function()
    plugin:put("a/1", "\0\1\2", { content_type = "application/octet-stream", metadata = {} })
    assert.equals("\0\1\2", plugin:get("a/1"))
    assert.is_nil(plugin:get("a/2"))
  end)

  it("pages a listing", function()
    plugin:put("a/1", "x", { metadata = {} })
    plugin:put("a/2", "y", { metadata = {} })
    local page = plugin:list_page("a/", nil)
    assert.equals(1, #page.objects)
    assert.equals("a/1", page.next)
  end)

  it("enforces the quota and private keys with coded errors", function()
    assert.error_matches(function() plugin:put("big", string.rep("x", 11), { metadata = {} }) end, "quota_exceeded")
    assert.error_matches(function() plugin:put("private/x", "x", { metadata = {} }) end, "access_denied")
  end)

  it("signs URLs", function()
    assert.equals("https://objects.example.com/a/1?op=get&expires_in=60", plugin:presigned_url("a/1", "get", 60))
  end)
end)
