-- Per-IP sliding-window rate limiter (a port of bext's bext-ratelimit-lua).
-- Config: {"limit": 100, "window_secs": 60}. Over the limit: 429 with
-- retry-after, and a `ratelimit.rejected` metric.
local config = bext.get_config()
local LIMIT = tonumber(config:match('"limit"%s*:%s*(%d+)')) or 100
local WINDOW = tonumber(config:match('"window_secs"%s*:%s*(%d+)')) or 60

local hits = {} -- peer ip -> { first = i, last = j, [i..j] = timestamps }

local function field(json, name)
  return json:match('"' .. name .. '"%s*:%s*"([^"]*)"')
end

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
    local ip = field(ctx_json, "peer_ip") or "unknown"
    local now = os.time()
    local bucket = hits[ip]
    if not bucket then
      bucket = { first = 1, last = 0 }
      hits[ip] = bucket
    end
    prune(bucket, now)
    if bucket.last - bucket.first + 1 >= LIMIT then
      local retry_after = bucket[bucket.first] + WINDOW - now
      bext.emit_metric("ratelimit.rejected", 1, '{"peer_ip":"' .. ip .. '"}')
      return bext.middleware_respond(string.format(
        '{"status":429,"headers":[["retry-after","%d"],["content-type","text/plain"]],"body":"slow down"}',
        retry_after))
    end
    bucket.last = bucket.last + 1
    bucket[bucket.last] = now
    return bext.middleware_continue()
  end,
}
