-- Per-IP rate limiter (a port of bext's bext-ratelimit-lua) on bext.shared.
-- Config: {"limit": 100, "window_secs": 60}. Over the limit: 429 with
-- retry-after, and a `ratelimit.rejected` metric. The remaining allowance
-- travels in the request's extensions (`ratelimit.remaining`), and
-- on_response turns it into an `x-ratelimit-remaining` header.
--
-- The counters live in bext.shared, the plugin's dictionary on the host, so
-- every sandbox of the plugin's pool counts into the same window: the limit
-- holds however many requests run in parallel. (Counters in a Lua table
-- would be per sandbox: a pool of N sandboxes would let N times the limit
-- through.)
local config = bext.json.decode(bext.get_config())
local LIMIT = math.tointeger(config.limit) or 100
local WINDOW_MS = (math.tointeger(config.window_secs) or 60) * 1000

return {
  priority = 200,

  on_request = function(self, ctx_json)
    local ctx = bext.json.decode(ctx_json)
    local ip = type(ctx.peer_ip) == "string" and ctx.peer_ip or "unknown"
    -- Atomic: the first request of a window creates the counter at 0 with
    -- the window as its time to live; the window ends when it expires.
    local used, err = bext.shared:incr(ip, 1, 0, WINDOW_MS)
    if not used then error("ratelimit: bext.shared:incr: " .. err) end
    if used > LIMIT then
      local retry_after = math.max(1, math.ceil((bext.shared:ttl(ip) or WINDOW_MS) / 1000))
      bext.emit_metric("ratelimit.rejected", 1, bext.json.encode({ peer_ip = ip }))
      return bext.middleware_respond(bext.json.encode({
        status = 429,
        headers = { { "retry-after", tostring(retry_after) }, { "content-type", "text/plain" } },
        body = "slow down",
      }), bext.json.encode({ ["ratelimit.remaining"] = "0" }))
    end
    return bext.middleware_continue(bext.json.encode({ ["ratelimit.remaining"] = tostring(LIMIT - used) }))
  end,

  -- arg_json: {"status":N,"headers":[[k,v],...],"request":{...,"extensions":{...}}}
  on_response = function(self, arg_json)
    local arg = bext.json.decode(arg_json)
    local remaining = arg.request.extensions["ratelimit.remaining"]
    if remaining == nil then return nil end
    local headers = arg.headers
    headers[#headers + 1] = { "x-ratelimit-remaining", remaining }
    return { headers = headers }
  end,
}
