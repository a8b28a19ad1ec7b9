-- An in-memory session store (SessionPlugin). Errors start with a code:
-- `not_found` and `invalid` pick SessionError's variants.
local EPOCH_MS = os.time() * 1000 - os.clock() * 1000
local function now_ms() return math.floor(EPOCH_MS + os.clock() * 1000) end

local sessions, next_id = {}, 0

local function live(id)
  local s = sessions[id]
  if not s or s.expires_at_ms <= now_ms() then
    sessions[id] = nil
    error("not_found: " .. id, 0)
  end
  return s
end

local function check_json(data_json)
  local ok, data = pcall(bext.json.decode, data_json)
  if not ok or type(data) ~= "table" then error("invalid: data_json must be a JSON object", 0) end
end

return {
  create = function(self, opts_json)
    local opts = bext.json.decode(opts_json)
    check_json(opts.data_json)
    next_id = next_id + 1
    local id = string.format("s%06d", next_id)
    local now = now_ms()
    sessions[id] = {
      id = id, user_id = opts.user_id, data_json = opts.data_json,
      created_at_ms = now, expires_at_ms = now + opts.ttl_ms,
    }
    return id
  end,

  read = function(self, id)
    local ok, s = pcall(live, id)
    if not ok then return nil end
    return s
  end,

  update = function(self, id, data_json)
    check_json(data_json)
    live(id).data_json = data_json
  end,

  touch = function(self, id, ttl_ms)
    live(id).expires_at_ms = now_ms() + ttl_ms
  end,

  delete = function(self, id) sessions[id] = nil end,

  is_healthy = function(self) return true end,
}
