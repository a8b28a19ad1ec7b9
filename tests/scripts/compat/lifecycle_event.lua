-- bext docs: "Lifecycle hooks" (lifecycle_event).
return {
  on_server_start = function(self, config_json)
    bext.lifecycle_event("started", config_json)
  end,
  on_request_complete = function(self, event_json)
    bext.lifecycle_event("request_complete", event_json)
  end,
}
