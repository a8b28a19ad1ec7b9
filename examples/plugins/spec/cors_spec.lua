describe("cors", function()
  local plugin = load_plugin("../cors.lua", { config = { allowed_origins = { "https://app.example" } } })
  local function preflight(origin)
    return plugin:on_request({
      method = "OPTIONS",
      headers = { { "origin", origin }, { "access-control-request-method", "POST" } },
    })
  end

  it("answers an allowed preflight with 204 and the allow headers", function()
    local action = preflight("https://app.example")
    assert.equals(204, action.status)
    assert.same({ "access-control-allow-origin", "https://app.example" }, action.headers[1])
    assert.same({ "access-control-max-age", "600" }, action.headers[4])
  end)

  it("refuses a preflight from another origin", function()
    assert.equals(403, preflight("https://evil.example").status)
  end)

  it("lets ordinary requests through", function()
    assert.equals("continue", plugin:on_request({ headers = { { "origin", "https://app.example" } } }).action)
  end)

  it("adds the allow-origin header to responses for allowed origins only", function()
    local allowed = plugin:on_response({ status = 200, headers = {} }, { headers = { { "origin", "https://app.example" } } })
    assert.same({ { "access-control-allow-origin", "https://app.example" }, { "vary", "origin" } }, allowed.headers)
    local other = plugin:on_response({ status = 200, headers = {} }, { headers = { { "origin", "https://evil.example" } } })
    assert.same({}, other.headers)
  end)
end)
