-- CORS: answers preflight requests and adds the CORS headers to responses
-- for allowed origins.
-- Config: {"allowed_origins": ["https://app.example"], "allow_methods": "GET, POST",
--          "allow_headers": "authorization, content-type", "max_age_secs": 600}
-- An origin of "*" in allowed_origins allows every origin.
local config = bext.json.decode(bext.get_config())
local ALLOWED = {}
for _, origin in ipairs(type(config.allowed_origins) == "table" and config.allowed_origins or {}) do
  ALLOWED[origin] = true
end
local METHODS = config.allow_methods or "GET, HEAD, POST"
local HEADERS = config.allow_headers or "authorization, content-type"
local MAX_AGE = tostring(math.tointeger(config.max_age_secs) or 600)

local function header(headers, name)
  for _, pair in ipairs(headers) do
    if pair[1]:lower() == name then return pair[2] end
  end
end

local function allowed(origin)
  return origin ~= nil and (ALLOWED[origin] or ALLOWED["*"]) == true
end

return {
  priority = 100,

  on_request = function(self, ctx_json)
    local ctx = bext.json.decode(ctx_json)
    local origin = header(ctx.headers, "origin")
    if ctx.method ~= "OPTIONS" or not header(ctx.headers, "access-control-request-method") then
      return bext.middleware_continue()
    end
    if not allowed(origin) then
      return bext.middleware_respond(bext.json.encode({ status = 403, body = "origin not allowed" }))
    end
    return bext.middleware_respond(bext.json.encode({
      status = 204,
      headers = {
        { "access-control-allow-origin", origin },
        { "access-control-allow-methods", METHODS },
        { "access-control-allow-headers", HEADERS },
        { "access-control-max-age", MAX_AGE },
        { "vary", "origin" },
      },
    }))
  end,

  on_response = function(self, arg_json)
    local arg = bext.json.decode(arg_json)
    local origin = header(arg.request.headers, "origin")
    -- A preflight answered above already carries the headers.
    if not allowed(origin) or header(arg.headers, "access-control-allow-origin") then return nil end
    local headers = arg.headers
    headers[#headers + 1] = { "access-control-allow-origin", origin }
    headers[#headers + 1] = { "vary", "origin" }
    return { headers = headers }
  end,
}
