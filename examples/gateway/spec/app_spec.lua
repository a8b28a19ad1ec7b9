-- bext-lua test examples/gateway/spec/app_spec.lua
describe("reload/app", function()
  local plugin = load_plugin("../plugins/reload/app.lua")

  it("lets every request through", function()
    assert.same({ action = "continue", extensions = {} }, plugin:on_request({ path = "/" }))
  end)

  it("marks the response with its script version, keeping the other headers", function()
    local response = plugin:on_response({ status = 200, headers = { { "content-type", "text/plain" } } })
    assert.same({ { "content-type", "text/plain" }, { "x-script-version", "0" } }, response.headers)
  end)
end)
