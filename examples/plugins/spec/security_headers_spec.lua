describe("security_headers", function()
  local plugin = load_plugin("../security_headers.lua")

  it("lets every request through", function()
    assert.equals("continue", plugin:on_request({ path = "/" }).action)
  end)

  it("adds its four headers after the upstream ones", function()
    local response = plugin:on_response({ status = 200, headers = { { "content-type", "text/html" } } })
    assert.equals(200, response.status)
    assert.equals(5, #response.headers)
    assert.same({ "x-frame-options", "DENY" }, response.headers[3])
  end)
end)
