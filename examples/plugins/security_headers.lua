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
    local pairs_json = arg_json:match('"headers":%[(.-)%],"request"') or ""
    local extra = {}
    for i, h in ipairs(ADDED) do
      extra[i] = string.format('["%s","%s"]', h[1], h[2])
    end
    if #pairs_json > 0 then pairs_json = pairs_json .. "," end
    return '{"headers":[' .. pairs_json .. table.concat(extra, ",") .. ']}'
  end,
}
