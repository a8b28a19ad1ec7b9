-- `bext.shared` for the native baseline: the same calls and return values
-- as the sandbox's (host/src/shared.rs), kept in a table of this Lua state.
-- bext's mlua tier has no shared dictionary, so a script that counts there
-- counts per state: this is that per-state table, with the API the
-- benchmarks' scripts use. No memory bound and no eviction (`forcible` is
-- always false). `now_ms` is the host's monotonic clock in milliseconds.
local now_ms = ...
local values, expires = {}, {}

local function live(key)
  local at = expires[key]
  if at and at <= now_ms() then values[key], expires[key] = nil, nil end
  return values[key]
end

local function store(key, value, ttl_ms)
  values[key] = value
  expires[key] = (ttl_ms and ttl_ms > 0) and now_ms() + ttl_ms or nil
end

local function args(first, ...)
  if type(first) == "table" then return ... end -- bext.shared:fn(...)
  return first, ...
end

local shared = {}

function shared.get(...)
  local key = args(...)
  return live(key)
end

function shared.set(...)
  local key, value, ttl_ms = args(...)
  store(key, value, ttl_ms)
  return true, nil, false
end

function shared.add(...)
  local key, value, ttl_ms = args(...)
  if live(key) ~= nil then return false, "exists", false end
  store(key, value, ttl_ms)
  return true, nil, false
end

function shared.replace(...)
  local key, value, ttl_ms = args(...)
  if live(key) == nil then return false, "not found", false end
  store(key, value, ttl_ms)
  return true, nil, false
end

function shared.incr(...)
  local key, by, init, init_ttl_ms = args(...)
  local current = live(key)
  if current == nil then
    if init == nil then return nil, "not found" end
    store(key, init + by, init_ttl_ms)
    return values[key], nil, false
  end
  if type(current) ~= "number" then return nil, "not a number" end
  values[key] = current + by
  return values[key], nil, false
end

function shared.delete(...)
  local key = args(...)
  values[key], expires[key] = nil, nil
end

function shared.ttl(...)
  local key = args(...)
  if live(key) == nil then return nil, "not found" end
  local at = expires[key]
  return at and math.max(1, at - now_ms()) or 0
end

function shared.expire(...)
  local key, ttl_ms = args(...)
  if live(key) == nil then return nil, "not found" end
  store(key, values[key], ttl_ms)
  return true
end

function shared.keys(...)
  local limit = args(...) or 1024
  local out = {}
  for key in pairs(values) do
    if live(key) ~= nil then out[#out + 1] = key end
    if limit > 0 and #out >= limit then break end
  end
  return out
end

function shared.flush_expired()
  local flushed, now = 0, now_ms()
  for key, at in pairs(expires) do
    if at <= now then values[key], expires[key], flushed = nil, nil, flushed + 1 end
  end
  return flushed
end

function shared.flush_all()
  values, expires = {}, {}
end

return shared
