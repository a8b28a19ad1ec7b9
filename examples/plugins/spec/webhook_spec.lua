describe("webhook", function()
  local plugin = load_plugin("../webhook.lua", { config = { token = "t0ken" } })
  local function request(token, sent_ms)
    return {
      url = "https://shop.example/hooks",
      method = "POST",
      headers = { { "x-webhook-token", token }, { "x-webhook-timestamp", tostring(sent_ms) } },
      received_at_ms = clock.now(),
    }
  end

  it("accepts the right token and refuses a wrong one", function()
    assert.equals("hmac_body", plugin:scheme())
    assert.equals(true, plugin:verify(request("t0ken", clock.now()), '{"event":"paid"}'))
    assert.equals(false, plugin:verify(request("nope", clock.now()), '{"event":"paid"}'))
  end)

  it("detects a replay and a bad body", function()
    assert.error_matches(function()
      plugin:verify(request("t0ken", clock.now() - 400000), "{}")
    end, "replay_detected")
    assert.error_matches(function()
      plugin:verify(request("t0ken", clock.now()), "not json")
    end, "malformed_payload")
  end)
end)
