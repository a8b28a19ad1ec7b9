-- The good tenant's first plugin: tags every request it lets through, so the
-- soak can tell a response the chain ran from one it did not.
return {
  on_request = function(self, ctx_json)
    return bext.middleware_continue()
  end,
  on_response = function(self, arg_json)
    local headers = bext.json.decode(arg_json).headers
    headers[#headers + 1] = { "x-soak", "good" }
    return { headers = headers }
  end,
}
