-- bext docs: "A cache backend in Lua" (cache_event).
local store = {}
return {
  get = function(self, key)
    local entry = store[key]
    if entry then
      bext.cache_event("hit", key)
    else
      bext.cache_event("miss", key)
    end
    return entry
  end,
  set = function(self, key, entry_json, ttl_ms)
    store[key] = entry_json
    bext.cache_event("set", key)
  end,
  delete = function(self, key)
    local existed = store[key] ~= nil
    store[key] = nil
    bext.cache_event("delete", key)
    return existed
  end,
  invalidate_tag = function(self, tag) return 0 end,
  invalidate_path = function(self, pattern) return 0 end,
}
