describe("mailer", function()
  local plugin = load_plugin("../mailer.lua")
  local function message(to)
    return { from = { email = "shop@example.com" }, to = { { email = to } }, subject = "Hi", text = "Hello" }
  end

  it("sends a valid message and returns its id", function()
    assert.same({ id = "msg-1" }, plugin:send(message("ada@example.com")))
  end)

  it("refuses a bad recipient and a blocked domain with coded errors", function()
    assert.error_matches(function() plugin:send(message("not an address")) end, "invalid_message: bad recipient")
    assert.error_matches(function() plugin:send(message("x@blocked.example")) end, "rejected: x@blocked.example")
  end)
end)
