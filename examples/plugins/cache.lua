-- An in-memory cache backend (CacheBackend) with tags and TTLs.
-- Config: {"max_entries": 10000}. Entries live in this plugin's sandbox: a
-- sandbox replaced after a trap starts empty, which a cache may do.
local config = bext.json.decode(bext.get_config())
local MAX_ENTRIES = math.tointeger(config.max_entries) or 10000

-- Milliseconds since the epoch, monotonic within the sandbox.
local EPOCH_MS = os.time() * 1000 - os.clock() * 1000
local function now_ms() return EPOCH_MS + os.clock() * 1000 end

---@type table<string, {json: string, tags: string[], expires_at: number?, seq: integer}>
local entries = {} -- key -> { json = entry_json, tags = {...}, expires_at = ms or nil, seq = n }
local by_tag = {}  -- tag -> { [key] = true }
---@type table<integer, string>
local order = {} -- insertion order, for eviction
local head, tail, count = 1, 0, 0

local function remove(key)
  local e = entries[key]
  if not e then return false end
  entries[key] = nil
  count = count - 1
  for _, tag in ipairs(e.tags) do
    local keys = by_tag[tag]
    if keys then
      keys[key] = nil
      if next(keys) == nil then by_tag[tag] = nil end
    end
  end
  return true
end

-- Drops the oldest entries until there is room for one more.
local function evict()
  while count >= MAX_ENTRIES and head <= tail do
    local key = order[head]
    order[head] = nil
    head = head + 1
    local e = entries[key]
    if e and e.seq == head - 1 then
      remove(key)
      bext.cache_event("evict", key)
    end
  end
end

-- A path glob (`*` any run of characters, `?` one) as an anchored Lua pattern.
local function glob_to_pattern(glob)
  local escaped = glob:gsub("[%^%$%(%)%%%.%[%]%+%-]", "%%%0")
  return "^" .. escaped:gsub("%*", ".*"):gsub("%?", ".") .. "$"
end

return {
  get = function(self, key)
    local e = entries[key]
    if not e then
      bext.cache_event("miss", key)
      return nil
    end
    if e.expires_at and now_ms() >= e.expires_at then
      remove(key)
      bext.cache_event("expired", key)
      return nil
    end
    bext.cache_event("hit", key)
    return e.json
  end,

  set = function(self, key, entry_json, ttl_ms)
    local entry = bext.json.decode(entry_json)
    remove(key)
    evict()
    local tags = {}
    if type(entry.tags) == "table" then
      for i, tag in ipairs(entry.tags) do tags[i] = tag end
    end
    tail = tail + 1
    order[tail] = key
    entries[key] = { json = entry_json, tags = tags, expires_at = ttl_ms and now_ms() + ttl_ms, seq = tail }
    count = count + 1
    for _, tag in ipairs(tags) do
      by_tag[tag] = by_tag[tag] or {}
      by_tag[tag][key] = true
    end
    bext.cache_event("set", key)
  end,

  delete = function(self, key)
    local existed = remove(key)
    if existed then bext.cache_event("delete", key) end
    return existed
  end,

  invalidate_tag = function(self, tag)
    local n = 0
    for key in pairs(by_tag[tag] or {}) do
      if remove(key) then n = n + 1 end
    end
    bext.cache_event("invalidate_tag", tag)
    return n
  end,

  invalidate_path = function(self, glob)
    local pattern, doomed = glob_to_pattern(glob), {}
    for key in pairs(entries) do
      if key:find(pattern) then doomed[#doomed + 1] = key end
    end
    for _, key in ipairs(doomed) do remove(key) end
    bext.cache_event("invalidate_path", glob)
    return #doomed
  end,

  is_healthy = function(self) return count <= MAX_ENTRIES end,
}
