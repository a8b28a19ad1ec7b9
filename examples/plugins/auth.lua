-- Bearer-token check for a protected path prefix.
-- Config: {"protected_prefix": "/api/", "tokens": ["token-a", "token-b"]}
-- An accepted request carries `auth.token_index` in its extensions.
local config = bext.json.decode(bext.get_config())
local PREFIX = type(config.protected_prefix) == "string" and config.protected_prefix or "/"
local TOKENS = {}
for i, token in ipairs(type(config.tokens) == "table" and config.tokens or {}) do
  TOKENS[token] = i
end

-- The first header called `name` (case-insensitive) in [[name, value], ...].
local function header(headers, name)
  for _, pair in ipairs(headers) do
    if pair[1]:lower() == name then return pair[2] end
  end
end

return {
  priority = 300,

  on_request = function(self, ctx_json)
    local ctx = bext.json.decode(ctx_json)
    if ctx.path:sub(1, #PREFIX) ~= PREFIX then
      return bext.middleware_continue()
    end
    local token = (header(ctx.headers, "authorization") or ""):match("^Bearer%s+(%S+)$")
    if not token then
      return bext.middleware_respond(bext.json.encode({
        status = 401,
        headers = { { "www-authenticate", "Bearer" } },
        body = "missing bearer token",
      }))
    end
    if not TOKENS[token] then
      bext.log("warn", "rejected an unknown token for " .. ctx.path)
      return bext.middleware_respond('{"status":403,"body":"invalid token"}')
    end
    return bext.middleware_continue(bext.json.encode({ ["auth.token_index"] = TOKENS[token] }))
  end,
}
