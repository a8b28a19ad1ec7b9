describe("hello", function()
  local plugin = load_plugin("../hello.lua")

  it("lets the request through and leaves the response alone", function()
    assert.same({ action = "continue", extensions = {} }, plugin:on_request({ path = "/hello" }))
    assert.same({ status = 200, headers = {} }, plugin:on_response({ status = 200, headers = {} }))
  end)
end)
