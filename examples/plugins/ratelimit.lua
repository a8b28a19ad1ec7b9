-- Per-IP sliding-window rate limiter (a port of bext's bext-ratelimit-lua).
-- Config: {"limit": 100, "window_secs": 60}. Over the limit: 429 with
-- retry-after, and a `ratelimit.rejected` metric. The remaining allowance
-- travels in the request's extensions (`ratelimit.remaining`), and
-- on_response turns it into an `x-ratelimit-remaining` header.
local config = bext.json.decode(bext.get_config())
local LIMIT = math.tointeger(config.limit) or 100
local WINDOW = math.tointeger(config.window_secs) or 60

local hits = {} -- peer ip -> { first = i, last = j, [i..j] = timestamps }

local function prune(bucket, now)
  local cutoff, i = now - WINDOW, bucket.first
  while i <= bucket.last and bucket[i] <= cutoff do
    bucket[i] = nil
    i = i + 1
  end
  bucket.first = i
end

return {
  priority = 200,

  on_request = function(self, ctx_json)
    local ctx = bext.json.decode(ctx_json)
    local ip = type(ctx.peer_ip) == "string" and ctx.peer_ip or "unknown"
    local now = os.time()
    local bucket = hits[ip]
    if not bucket then
      bucket = { first = 1, last = 0 }
      hits[ip] = bucket
    end
    prune(bucket, now)
    local used = bucket.last - bucket.first + 1
    if used >= LIMIT then
      local retry_after = bucket[bucket.first] + WINDOW - now
      bext.emit_metric("ratelimit.rejected", 1, bext.json.encode({ peer_ip = ip }))
      return bext.middleware_respond(bext.json.encode({
        status = 429,
        headers = { { "retry-after", tostring(retry_after) }, { "content-type", "text/plain" } },
        body = "slow down",
      }), bext.json.encode({ ["ratelimit.remaining"] = "0" }))
    end
    bucket.last = bucket.last + 1
    bucket[bucket.last] = now
    return bext.middleware_continue(bext.json.encode({ ["ratelimit.remaining"] = tostring(LIMIT - used - 1) }))
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
