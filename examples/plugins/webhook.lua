-- A webhook verifier (WebhookPlugin). The sandbox has no HMAC, so this one
-- checks a shared token header in constant time, a timestamp window against
-- replays, and that the body is a JSON object.
-- Config: {"token": "...", "max_age_ms": 300000}.
local config = bext.json.decode(bext.get_config())
local TOKEN = type(config.token) == "string" and config.token or "s3cret"
local MAX_AGE_MS = math.tointeger(config.max_age_ms) or 300000

local function header(req, name)
  for _, pair in ipairs(req.headers) do
    if pair[1]:lower() == name then return pair[2] end
  end
  error("missing_header: " .. name, 0)
end

local function same(a, b)
  if #a ~= #b then return false end
  local diff = 0
  for i = 1, #a do diff = diff | (a:byte(i) ~ b:byte(i)) end
  return diff == 0
end

return {
  scheme = function(self) return "hmac_body" end,

  verify = function(self, req_json, body)
    local req = bext.json.decode(req_json)
    local token = header(req, "x-webhook-token")
    local ts = math.tointeger(tonumber(header(req, "x-webhook-timestamp")))
    if not ts then error("malformed_payload: bad timestamp", 0) end
    if req.received_at_ms - ts > MAX_AGE_MS then error("replay_detected: sent " .. (req.received_at_ms - ts) .. " ms ago", 0) end
    local ok, payload = pcall(bext.json.decode, body)
    if not ok or type(payload) ~= "table" then error("malformed_payload: the body is not a JSON object", 0) end
    return same(token, TOKEN)
  end,
}
