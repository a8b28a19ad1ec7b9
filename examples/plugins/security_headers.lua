-- Adds security headers to every response (on_response only).
local ADDED = {
  { "x-content-type-options", "nosniff" },
  { "x-frame-options", "DENY" },
  { "referrer-policy", "no-referrer" },
  { "strict-transport-security", "max-age=63072000; includeSubDomains" },
}

return {
  priority = 100,

  on_request = function(self, ctx_json)
    return bext.middleware_continue()
  end,

  -- arg_json: {"status":200,"headers":[["name","value"],...],"request":{...}}
  on_response = function(self, arg_json)
    local headers = bext.json.decode(arg_json).headers
    for _, pair in ipairs(ADDED) do
      headers[#headers + 1] = pair
    end
    return { headers = headers } -- a table is encoded as JSON
  end,
}
