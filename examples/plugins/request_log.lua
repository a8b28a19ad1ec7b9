-- A lifecycle plugin that counts request completions and logs them.
-- Config: {"log_every": 1} logs every n-th completion (default: every one).
-- Each completion also emits a `requests.completed` metric tagged with its
-- status class; `on_server_stop` reports the totals as a lifecycle event.
local config = bext.json.decode(bext.get_config())
local LOG_EVERY = math.tointeger(config.log_every) or 1

local totals = { completed = 0, by_class = {}, cache_writes = 0, invalidated = 0 }

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
    totals.completed = totals.completed + 1
    totals.by_class[class] = (totals.by_class[class] or 0) + 1
    bext.emit_metric("requests.completed", 1, bext.json.encode({ status_class = class }))
    if totals.completed % LOG_EVERY == 0 then
      bext.log("info", string.format("%s %s -> %s (%d completed)",
        tostring(event.method), tostring(event.path), tostring(event.status), totals.completed))
    end
  end,

  on_cache_write = function(self, key, tags_json)
    totals.cache_writes = totals.cache_writes + 1
  end,

  on_cache_invalidate = function(self, pattern, count)
    totals.invalidated = totals.invalidated + count
  end,

  on_server_stop = function(self)
    bext.lifecycle_event("summary", bext.json.encode(totals))
  end,
}
