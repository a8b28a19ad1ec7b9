-- bext-lua test examples/gateway/spec/spin_spec.lua
describe("loop/spin", function()
  it("is stopped by its fuel budget on every request", function()
    local plugin = load_plugin("../plugins/loop/spin.lua")
    assert.error_matches(function() plugin:on_request({ path = "/" }) end, "out of fuel")
    assert.error_matches(function() plugin:on_request({ path = "/again" }) end, "out of fuel")
  end)

  it("is stopped by its deadline when the fuel would last longer", function()
    -- the gateway's loop tenant: a 100 ms deadline
    local plugin = load_plugin("../plugins/loop/spin.lua", { limits = { timeout_ms = 100, fuel_per_call = 1000000000000 } })
    assert.error_matches(function() plugin:on_request({ path = "/" }) end, "deadline")
  end)
end)
