-- Wraps a plugin under `bext-lua test` (src/cli/test.rs fills in the
-- @...@ fields): the plugin's own source is loaded with its file name as
-- the chunk name (lines and messages as in production), after a fake clock
-- replaces `os.time`, `os.date`, `os.clock` and the TTLs of `bext.shared`.
-- Values still live in the plugin's real dictionary on the host (its
-- conventions, bounds and errors); only expiry follows the fake clock, kept
-- in this sandbox (`bext-lua test` runs the plugin in one sandbox).
local now_ms = @NOW_MS@
local START_MS = now_ms
local real_time, real_date = os.time, os.date

os.time = function(date)
  if date ~= nil then return real_time(date) end
  return now_ms // 1000
end
os.date = function(format, time)
  return real_date(format, time or now_ms // 1000)
end
os.clock = function() return (now_ms - START_MS) / 1000 end

local real = bext.shared
local expires = {} -- key -> fake expiry (ms)
local shared = {}

local function ttl_arg(ttl)
  -- the real dictionary checks the argument; expiry is kept here
  if type(ttl) == "number" and ttl > 0 then return 0 end
  return ttl
end
local function purge(key)
  local k = tostring(key)
  local at = expires[k]
  if at and at <= now_ms then
    real.delete(key)
    expires[k] = nil
  end
end
local function purge_all(max)
  local n = 0
  for k, at in pairs(expires) do
    if max and max > 0 and n >= max then break end
    if at <= now_ms then
      real.delete(k)
      expires[k] = nil
      n = n + 1
    end
  end
  return n
end
local function remember(key, ttl)
  expires[tostring(key)] = (type(ttl) == "number" and ttl > 0) and now_ms + ttl or nil
end
local function store(op)
  return function(key, value, ttl)
    purge(key)
    local ok, err, forcible = real[op](key, value, ttl_arg(ttl))
    if ok then remember(key, ttl) end
    return ok, err, forcible
  end
end
shared.set = store("set")
shared.add = store("add")
shared.replace = store("replace")
function shared.get(key)
  purge(key)
  return real.get(key)
end
function shared.incr(key, by, init, init_ttl)
  purge(key)
  local existed = real.get(key) ~= nil
  local value, err, forcible = real.incr(key, by, init, ttl_arg(init_ttl))
  if value ~= nil and not existed then remember(key, init_ttl) end
  return value, err, forcible
end
function shared.delete(key)
  real.delete(key)
  expires[tostring(key)] = nil
end
function shared.ttl(key)
  purge(key)
  local left, err = real.ttl(key)
  if left == nil then return left, err end
  local at = expires[tostring(key)]
  return at and at - now_ms or 0
end
function shared.expire(key, ttl)
  purge(key)
  local ok, err = real.expire(key, ttl_arg(ttl))
  if ok then remember(key, ttl) end
  return ok, err
end
function shared.keys(limit)
  purge_all()
  return real.keys(limit)
end
function shared.flush_expired(max)
  return purge_all(max)
end
function shared.flush_all()
  real.flush_all()
  expires = {}
end
-- Both bext.shared:get(k) and bext.shared.get(k), as the real one.
local wrapped = {}
for name, fn in pairs(shared) do
  wrapped[name] = function(first, ...)
    if first == wrapped then return fn(...) end
    return fn(first, ...)
  end
end
bext.shared = wrapped

--@SOURCE@
local chunk, load_error = load(SOURCE, @CHUNKNAME@, "t")
if not chunk then error(load_error, 0) end
SOURCE = nil
local plugin = chunk(...)
if type(plugin) == "table" then
  -- The command's door into this sandbox: set the clock, run a dictionary call.
  rawset(plugin, "__bext_test", function(self, command_json)
    local command = bext.json.decode(command_json)
    now_ms = command.now_ms
    if command.fn == nil then return nil end
    local fn = shared[command.fn]
    if not fn then error("bext.shared has no function " .. tostring(command.fn), 0) end
    local args, n = command.args, #command.args
    for i = 1, n do
      if args[i] == bext.json.null then args[i] = nil end
    end
    local results = table.pack(fn(table.unpack(args, 1, n)))
    for i = 1, results.n do
      if results[i] == nil then results[i] = bext.json.null end
    end
    return bext.json.encode({ n = results.n, values = bext.json.array({ table.unpack(results, 1, results.n) }) })
  end)
end
return plugin
