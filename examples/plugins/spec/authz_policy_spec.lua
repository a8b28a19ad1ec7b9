describe("authz_policy", function()
  local plugin = load_plugin("../authz_policy.lua")
  local function ctx(action, resource, role, principal)
    return { action = action, resource = resource, principal = principal or "u1", attributes = { role = role } }
  end

  it("lets anyone read posts", function()
    assert.equals(true, plugin:evaluate(ctx("read", "posts/1", "guest")))
  end)

  it("lets editors write posts but not settings", function()
    assert.equals(true, plugin:evaluate(ctx("write", "posts/1", "editor")))
    local decision = plugin:evaluate(ctx("write", "settings", "editor"))
    assert.equals("deny", decision.decision)
    assert.matches("editor may not write settings %(policy v1%)", decision.reason)
  end)

  it("watermarks an editor's export", function()
    local decision = plugin:evaluate(ctx("export", "posts/1", "editor", "eve"))
    assert.same({ decision = "mutate", headers = { { "x-watermark", "eve" } } }, decision)
  end)

  it("counts policy reloads", function()
    plugin:reload_policies()
    assert.matches("policy v2", plugin:evaluate(ctx("write", "settings", "guest")).reason)
  end)

  it("fails an anonymous write", function()
    assert.error_matches(function()
      plugin:evaluate({ action = "write", resource = "posts/1", attributes = {} })
    end, "anonymous write of posts/1")
  end)
end)
