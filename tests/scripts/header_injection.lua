-- Hands back whatever header, URL or extension the caller asks for, so the
-- tests can try every injection through every place a script's output
-- becomes HTTP text. The request names it in two headers: `inject-name`
-- and `inject-value` (for the capabilities without a request, the key or
-- the attributes carry them).
local function wanted(headers)
  local name, value
  for _, pair in ipairs(headers) do
    if pair[1] == "inject-name" then name = pair[2] end
    if pair[1] == "inject-value" then value = pair[2] end
  end
  return name, value
end

local function respond_with(name, value)
  return bext.json.encode({ status = 200, headers = { { name, value } }, body = "" })
end

return {
  on_request = function(self, ctx_json)
    local ctx = bext.json.decode(ctx_json)
    local name, value = wanted(ctx.headers)
    if ctx.path == "/extension" then
      return bext.middleware_continue(bext.json.encode({ [name] = value }))
    end
    return bext.middleware_respond(respond_with(name, value))
  end,

  on_response = function(self, arg_json)
    local arg = bext.json.decode(arg_json)
    local name, value = wanted(arg.request.headers)
    return { headers = { { name, value } } }
  end,

  -- CacheBackend: the key is {"name":..,"value":..}; the value is also the etag.
  get = function(self, key)
    local want = bext.json.decode(key)
    if want.etag then
      return { html = "", etag = want.value }
    end
    return { html = "", headers = { { want.name, want.value } } }
  end,
  set = function() end,
  delete = function() return 0 end,
  invalidate_tag = function() return 0 end,
  invalidate_path = function() return 0 end,

  -- AuthPlugin: a login that redirects to the requested URL.
  provider_kind = function() return "o_auth" end,
  resolve = function() return nil end,
  begin_login = function(self, ctx_json)
    local _, url = wanted(bext.json.decode(ctx_json).headers)
    return { action = "redirect", url = url }
  end,

  -- StorageClient: presigned URL and listed ETag from the key / prefix.
  presigned_url = function(self, key) return key end,
  list_page = function(self, prefix)
    return { objects = { { key = "k", size = 1, etag = prefix, last_modified_ms = 0 } } }
  end,

  -- AuthzPolicy: a mutation adding the requested header.
  evaluate = function(self, ctx_json)
    local attrs = bext.json.decode(ctx_json).attributes
    return { decision = "mutate", headers = { { attrs.name, attrs.value } } }
  end,
}
