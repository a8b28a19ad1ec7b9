describe("auth", function()
  local plugin
  before_each(function()
    plugin = load_plugin("../auth.lua", { config = { protected_prefix = "/api/", tokens = { "t1", "t2" } } })
  end)

  it("lets requests outside the prefix through", function()
    assert.equals("continue", plugin:on_request({ path = "/public" }).action)
  end)

  it("answers 401 without a bearer token", function()
    local action = plugin:on_request({ path = "/api/orders" })
    assert.equals(401, action.status)
    assert.same({ { "www-authenticate", "Bearer" } }, action.headers)
  end)

  it("answers 403 for an unknown token", function()
    local action = plugin:on_request({ path = "/api/orders", headers = { { "Authorization", "Bearer nope" } } })
    assert.equals(403, action.status)
    assert.equals("invalid token", action.body)
  end)

  it("passes a known token's index on in the extensions", function()
    local action = plugin:on_request({ path = "/api/orders", headers = { { "authorization", "Bearer t2" } } })
    assert.equals("continue", action.action)
    assert.equals("2", action.extensions["auth.token_index"])
  end)
end)
