-- An in-memory object store (StorageClientPlugin) with a byte quota and
-- paged listing. Errors start with a code: `not_found`, `access_denied`,
-- `quota_exceeded`. Config: {"quota_bytes": 1048576, "page_size": 100}.
local config = bext.json.decode(bext.get_config())
local QUOTA = math.tointeger(config.quota_bytes) or 1048576
local PAGE_SIZE = math.tointeger(config.page_size) or 100

local objects, used, version = {}, 0, 0

return {
  get = function(self, key)
    local o = objects[key]
    return o and o.body -- nil: not found
  end,

  put = function(self, key, body, opts_json)
    if key:sub(1, 8) == "private/" then error("access_denied", 0) end
    local old = objects[key] and #objects[key].body or 0
    if used - old + #body > QUOTA then error("quota_exceeded", 0) end
    version = version + 1
    objects[key] = { body = body, etag = string.format("\"v%d\"", version), modified = os.time() * 1000,
                     content_type = bext.json.decode(opts_json).content_type }
    used = used - old + #body
  end,

  delete = function(self, key)
    local o = objects[key]
    if not o then error("not_found", 0) end
    used = used - #o.body
    objects[key] = nil
  end,

  list_page = function(self, prefix, token)
    local keys = {}
    for key in pairs(objects) do
      if key:sub(1, #prefix) == prefix and (token == nil or key > token) then keys[#keys + 1] = key end
    end
    table.sort(keys)
    local page = bext.json.array()
    for i = 1, math.min(#keys, PAGE_SIZE) do
      local o = objects[keys[i]]
      page[i] = { key = keys[i], size = #o.body, etag = o.etag, last_modified_ms = o.modified }
    end
    return { objects = page, next = #keys > PAGE_SIZE and keys[PAGE_SIZE] or nil }
  end,

  presigned_url = function(self, key, op, ttl_secs)
    return string.format("https://objects.example.com/%s?op=%s&expires_in=%d", key, op, ttl_secs)
  end,
}
