-- A lifecycle plugin that counts request completions and logs them.
-- Config: {"log_every": 1} logs every n-th completion (default: every one).
-- Each completion also emits a `requests.completed` metric tagged with its
-- status class; `on_server_stop` reports the totals as a lifecycle event.
-- The totals live in bext.shared, so every sandbox of the plugin's pool adds
-- to the same counts (a Lua table would count per sandbox).
local config = bext.json.decode(bext.get_config())
local LOG_EVERY = math.tointeger(config.log_every) or 1

local function count(key, by)
  return bext.shared:incr(key, by or 1, 0) or 0
end

local function totals()
  local by_class = {}
  for _, key in ipairs(bext.shared:keys(0)) do
    local class = key:match("^class:(.+)$")
    if class then by_class[class] = bext.shared:get(key) end
  end
  return {
    completed = bext.shared:get("completed") or 0,
    by_class = by_class,
    cache_writes = bext.shared:get("cache_writes") or 0,
    invalidated = bext.shared:get("invalidated") or 0,
  }
end

local function status_class(status)
  return math.type(status) == "integer" and (status // 100) .. "xx" or "unknown"
end

return {
  priority = 900,

  on_server_start = function(self, config_json)
    bext.lifecycle_event("server_start", config_json)
  end,

  on_request_complete = function(self, event_json)
    local event = bext.json.decode(event_json)
    local class = status_class(event.status)
    local completed = count("completed")
    count("class:" .. class)
    bext.emit_metric("requests.completed", 1, bext.json.encode({ status_class = class }))
    if completed % LOG_EVERY == 0 then
      bext.log("info", string.format("%s %s -> %s (%d completed)",
        tostring(event.method), tostring(event.path), tostring(event.status), completed))
    end
  end,

  on_cache_write = function(self, key, tags_json)
    count("cache_writes")
  end,

  on_cache_invalidate = function(self, pattern, count_arg)
    count("invalidated", count_arg)
  end,

  on_server_stop = function(self)
    bext.lifecycle_event("summary", bext.json.encode(totals()))
  end,
}
