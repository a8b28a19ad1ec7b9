-- Leases (LockingPlugin) held in the plugin's memory: one holder per key
-- until the TTL runs out. A node-local lock; a real one would use a store.
local EPOCH_MS = os.time() * 1000 - os.clock() * 1000
local function now_ms() return EPOCH_MS + os.clock() * 1000 end

---@type table<string, {lock_id: string, expires_at: number}>
local locks = {} -- key -> { lock_id, expires_at }
local next_id = 0

local function held(handle)
  local l = locks[handle.key]
  if not l or l.lock_id ~= handle.lock_id or l.expires_at <= now_ms() then
    error("lock `" .. handle.key .. "` is not held by " .. handle.lock_id, 0)
  end
  return l
end

return {
  try_lock = function(self, key, ttl_ms)
    local l = locks[key]
    if l and l.expires_at > now_ms() then return nil end
    next_id = next_id + 1
    local lock_id = "lock-" .. next_id
    locks[key] = { lock_id = lock_id, expires_at = now_ms() + ttl_ms }
    return { key = key, lock_id = lock_id, ttl_ms = ttl_ms }
  end,

  renew = function(self, handle_json)
    local handle = bext.json.decode(handle_json)
    held(handle).expires_at = now_ms() + handle.ttl_ms
  end,

  release = function(self, handle_json)
    local handle = bext.json.decode(handle_json)
    held(handle)
    locks[handle.key] = nil
  end,

  cleanup = function(self) locks = {} end,
}
