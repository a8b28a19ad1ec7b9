-- bext docs: "Short-circuit with a response" (middleware_respond, 429).
local count = 0
return {
  on_request = function(self, ctx_json)
    count = count + 1
    if count > 2 then
      return bext.middleware_respond('{"status":429,"headers":[["retry-after","60"]],"body":"slow down"}')
    end
    return bext.middleware_continue()
  end,
}
