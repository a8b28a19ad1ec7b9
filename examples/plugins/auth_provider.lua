-- A password and API-token auth provider (AuthPlugin). Users come from the
-- config: {"users": {"ada": {"password": "...", "role": "admin",
-- "token": "..."}}}; the defaults below are for the examples.
local config = bext.json.decode(bext.get_config())
local USERS = type(config.users) == "table" and config.users or {
  ada = { password = "lovelace", role = "admin", token = "tok-ada" },
  bob = { password = "builder", role = "editor", token = "tok-bob" },
}

local function user(subject, ctx)
  local u = USERS[subject]
  return {
    subject = subject, tenant_id = ctx.tenant_id, role = u.role,
    permissions = u.role == "admin" and { "read", "write", "admin" } or { "read", "write" },
  }
end

local function bearer(ctx)
  for _, pair in ipairs(ctx.headers) do
    if pair[1]:lower() == "authorization" then return pair[2]:match("^Bearer%s+(%S+)$") end
  end
end

return {
  provider_kind = function(self) return "password" end,

  resolve = function(self, ctx_json)
    local ctx = bext.json.decode(ctx_json)
    local token = bearer(ctx)
    if not token then return nil end
    for subject, u in pairs(USERS) do
      if u.token == token then return user(subject, ctx) end
    end
    return nil
  end,

  begin_login = function(self, ctx_json, params_json)
    local params = bext.json.decode(params_json)
    if params.inputs.username then
      return { action = "redirect", url = "/login/callback?user=" .. params.inputs.username }
    end
    return { action = "prompt", message = "Enter your username and password" }
  end,

  complete_login = function(self, ctx_json, callback_json)
    local ctx, cb = bext.json.decode(ctx_json), bext.json.decode(callback_json)
    local name, password = cb.form.username, cb.form.password
    local u = USERS[name or ""]
    if not u or u.password ~= password then error("wrong username or password", 0) end
    return user(name, ctx)
  end,
}
