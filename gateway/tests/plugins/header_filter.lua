-- A filter whose pattern backtracks exponentially on a client-chosen
-- header: `x-q` with forty 'a's and no 'b' runs the call out of fuel (a
-- trap). Other requests pass. The quarantine test of gateway.rs sends both.
return {
  on_request = function(self, ctx_json)
    local ctx = bext.json.decode(ctx_json)
    for _, header in ipairs(ctx.headers) do
      if header[1] == "x-q" and string.find(header[2], ("a*"):rep(24) .. "b") then
        return bext.middleware_respond('{"status":403,"body":"refused"}')
      end
    end
    return bext.middleware_continue()
  end,
}
