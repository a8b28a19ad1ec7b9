-- bext-lua test examples/plugins/spec/ratelimit_spec.lua
describe("ratelimit", function()
  local plugin
  before_each(function()
    plugin = load_plugin("../ratelimit.lua", { config = { limit = 5, window_secs = 60 } })
  end)

  it("admits the limit and counts down in the extensions", function()
    for i = 1, 5 do
      local action = plugin:on_request({ peer_ip = "203.0.113.7" })
      assert.equals("continue", action.action)
      assert.equals(tostring(5 - i), action.extensions["ratelimit.remaining"])
    end
  end)

  it("rejects the sixth request with 429 and retry-after", function()
    for _ = 1, 5 do plugin:on_request({ peer_ip = "203.0.113.7" }) end
    clock.advance(15000)
    local action = plugin:on_request({ peer_ip = "203.0.113.7" })
    assert.equals("respond", action.action)
    assert.equals(429, action.status)
    assert.same({ "retry-after", "45" }, action.headers[1])
    assert.same({ { name = "ratelimit.rejected", value = 1, tags = { peer_ip = "203.0.113.7" } } }, plugin:metrics())
  end)

  it("counts each address on its own", function()
    for _ = 1, 5 do plugin:on_request({ peer_ip = "203.0.113.7" }) end
    assert.equals("continue", plugin:on_request({ peer_ip = "198.51.100.1" }).action)
  end)

  it("opens a new window when the old one expires", function()
    for _ = 1, 6 do plugin:on_request({ peer_ip = "203.0.113.7" }) end
    assert.equals(5, plugin.shared:get("203.0.113.7") - 1)
    clock.advance(60000)
    assert.is_nil(plugin.shared:get("203.0.113.7"))
    assert.equals("continue", plugin:on_request({ peer_ip = "203.0.113.7" }).action)
  end)

  it("adds x-ratelimit-remaining to the response", function()
    local action = plugin:on_request({ peer_ip = "203.0.113.7" })
    local response = plugin:on_response({ status = 200, headers = {} }, { extensions = action.extensions })
    assert.same({ { "x-ratelimit-remaining", "4" } }, response.headers)
  end)
end)
