-- The tenant whose script the load test rewrites while it serves: every
-- version marks its responses with its number.
local VERSION = "0"
return {
  on_request = function(self, ctx_json)
    return bext.middleware_continue()
  end,
  on_response = function(self, arg_json)
    local headers = bext.json.decode(arg_json).headers
    headers[#headers + 1] = { "x-script-version", VERSION }
    return { headers = headers }
  end,
}
