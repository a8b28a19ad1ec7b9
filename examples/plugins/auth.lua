-- Bearer-token check for a protected path prefix.
-- Config: {"protected_prefix": "/api/", "tokens": ["token-a", "token-b"]}
local config = bext.get_config()
local PREFIX = config:match('"protected_prefix"%s*:%s*"([^"]*)"') or "/"
local TOKENS = {}
for token in (config:match('"tokens"%s*:%s*%[(.-)%]') or ""):gmatch('"([^"]*)"') do
  TOKENS[token] = true
end

-- The first header called `name` (case-insensitive) in the context's
-- [["name","value"], ...] pairs.
local function header(ctx_json, name)
  for k, v in ctx_json:gmatch('%["([^"]*)","([^"]*)"%]') do
    if k:lower() == name then return v end
  end
end

return {
  priority = 300,

  on_request = function(self, ctx_json)
    local path = ctx_json:match('"path":"([^"]*)"') or "/"
    if path:sub(1, #PREFIX) ~= PREFIX then
      return bext.middleware_continue()
    end
    local token = (header(ctx_json, "authorization") or ""):match("^Bearer%s+(%S+)$")
    if not token then
      return bext.middleware_respond(
        '{"status":401,"headers":[["www-authenticate","Bearer"]],"body":"missing bearer token"}')
    end
    if not TOKENS[token] then
      bext.log("warn", "rejected an unknown token for " .. path)
      return bext.middleware_respond('{"status":403,"body":"invalid token"}')
    end
    return bext.middleware_continue()
  end,
}
