-- A misbehaving tenant: loops forever on every request. Its deadline stops
-- each call, the sandbox is replaced, and after five traps in a row the
-- plugin is quarantined (503 at once) while every other tenant keeps serving.
return {
  on_request = function(self, ctx_json)
    while true do end
  end,
}
