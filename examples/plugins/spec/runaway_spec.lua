describe("runaway", function()
  local plugin = load_plugin("../runaway.lua")

  it("passes ordinary requests", function()
    assert.equals("continue", plugin:on_request({ path = "/" }).action)
  end)

  it("is stopped by the fuel budget, which pcall cannot catch", function()
    assert.error_matches(function() plugin:on_request({ path = "/spin" }) end, "fuel")
  end)

  it("serves again from a fresh sandbox after the stop", function()
    assert.equals("continue", plugin:on_request({ path = "/" }).action)
  end)
end)
