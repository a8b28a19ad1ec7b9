-- An authorization policy (AuthzPolicyPlugin): role-based rules over
-- `action` and `resource`, with the role in the `role` attribute.
local version = 1

local RULES = {
  { role = "admin", action = "*" },
  { role = "editor", action = "write", prefix = "posts/" },
  { role = "*", action = "read", prefix = "posts/" },
}

local function matches(rule, role, ctx)
  return (rule.role == "*" or rule.role == role)
    and (rule.action == "*" or rule.action == ctx.action)
    and (rule.prefix == nil or ctx.resource:sub(1, #rule.prefix) == rule.prefix)
end

return {
  evaluate = function(self, ctx_json)
    local ctx = bext.json.decode(ctx_json)
    if ctx.action ~= "read" and type(ctx.principal) ~= "string" then
      error("anonymous " .. ctx.action .. " of " .. ctx.resource, 0)
    end
    local role = ctx.attributes.role or "guest"
    if ctx.action == "export" and role == "editor" then
      -- Allowed, but the response is watermarked.
      return { decision = "mutate", headers = { { "x-watermark", ctx.principal } } }
    end
    for _, rule in ipairs(RULES) do
      if matches(rule, role, ctx) then return true end
    end
    return { decision = "deny", reason = role .. " may not " .. ctx.action .. " " .. ctx.resource .. " (policy v" .. version .. ")" }
  end,

  reload_policies = function(self) version = version + 1 end,
}
