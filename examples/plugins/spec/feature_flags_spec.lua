describe("feature_flags", function()
  local plugin = load_plugin("../feature_flags.lua")

  it("returns booleans and variants as they are", function()
    assert.equals(true, plugin:evaluate("dark_mode", { attributes = {} }))
    assert.equals("spring-sale", plugin:evaluate("banner", { attributes = {} }))
  end)

  it("rolls out by user bucket, never to anonymous users", function()
    assert.equals(false, plugin:evaluate("new_checkout", { user_id = bext.json.null, attributes = {} }))
    local on = 0
    for i = 1, 40 do
      if plugin:evaluate("new_checkout", { user_id = "user-" .. i, attributes = {} }) then on = on + 1 end
    end
    assert.truthy(on > 5 and on < 35, "about half of 40 users: " .. on)
  end)

  it("picks a value by plan", function()
    assert.equals(100, plugin:evaluate("max_uploads", { attributes = { plan = "pro" } }))
    assert.equals(3, plugin:evaluate("max_uploads", { attributes = {} }))
  end)

  it("fails an unknown flag", function()
    assert.error_matches(function() plugin:evaluate("nope", { attributes = {} }) end, "unknown flag `nope`")
  end)
end)
