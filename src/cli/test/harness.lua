-- The spec runner of `bext-lua test`, loaded as a plugin in its own sandbox.
-- Its config holds the spec file (`source`, `chunkname`). The spec runs in
-- a coroutine: `describe`/`it` register tests as busted does, then each test
-- runs; whenever a test calls the plugin under test (`plugin:on_request{}`),
-- loads one or reads its dictionary, the coroutine yields a request and
-- `step` returns it (JSON) to the command, which makes that call through
-- the runtime, in the plugin's own sandbox, and passes the reply to the
-- next `step`. The last `step` returns `{"op":"done","results":[...]}`.
local json = bext.json
local spec = json.decode(bext.get_config())

-- ---- talking to the command ----

-- Sends `request`, returns the reply's value; a reply carrying an error is
-- raised at `level` (counted from the caller of `driver`).
local function driver(request, level)
  local reply = coroutine.yield(request)
  if reply.error ~= nil then error(reply.error, level + 1) end
  if reply.ok == json.null then return nil end
  return reply.ok
end

-- The fake clock, milliseconds since the epoch: 2026-01-01T00:00:00Z.
local START_MS = 1767225600000
local now_ms = START_MS
local clock = {}
function clock.now() return now_ms end
function clock.advance(ms)
  if type(ms) ~= "number" or ms < 0 then error("clock.advance: milliseconds >= 0 expected", 2) end
  now_ms = now_ms + math.floor(ms)
  return now_ms
end
function clock.set(ms)
  if type(ms) ~= "number" then error("clock.set: milliseconds since the epoch expected", 2) end
  now_ms = math.floor(ms)
  return now_ms
end

-- Arguments as a JSON array (nil holes become null).
local function pack(...)
  local args = json.array()
  for i = 1, select("#", ...) do
    local v = select(i, ...)
    if v == nil then v = json.null end
    args[i] = v
  end
  return args
end

local Plugin = {}
local plugin_helpers = {}

function plugin_helpers.set_config(self, config)
  driver({ op = "config", plugin = self.handle, config = config or {} }, 2)
end

function plugin_helpers.metrics(self)
  local metrics = driver({ op = "metrics", plugin = self.handle }, 2)
  return metrics
end

function Plugin.__index(self, method)
  local helper = plugin_helpers[method]
  if helper then return helper end
  if type(method) ~= "string" then return nil end
  return function(me, ...)
    if me ~= self then error("call plugin methods with ':' (plugin:" .. method .. "(...))", 2) end
    -- not a tail call: the error's position is the spec line calling this
    local result = driver({ op = "call", plugin = self.handle, method = method, args = pack(...), now_ms = now_ms }, 2)
    return result
  end
end

local function shared_of(handle)
  return setmetatable({}, {
    __index = function(proxy, fn)
      return function(...)
        local args = pack(...)
        if select("#", ...) > 0 and (...) == proxy then args = pack(select(2, ...)) end
        local results = driver({ op = "shared", plugin = handle, fn = fn, args = args, now_ms = now_ms }, 2)
        for i = 1, results.n do
          if results.values[i] == json.null then results.values[i] = nil end
        end
        return table.unpack(results.values, 1, results.n)
      end
    end,
  })
end

-- load_plugin(path [, {config = {...}}]): the plugin at `path` (relative to
-- the spec file), loaded fresh (a new bext.shared dictionary).
local function load_plugin(path, options)
  if type(path) ~= "string" then error("load_plugin: a path expected", 2) end
  options = options or {}
  local request = { op = "load", path = path, config = options.config or {}, now_ms = now_ms }
  request.limits = options.limits or {}
  local handle = driver(request, 2)
  local plugin = setmetatable({ handle = handle }, Plugin)
  rawset(plugin, "shared", shared_of(handle))
  return plugin
end

-- ---- assertions ----

local function show(v, depth)
  depth = depth or 0
  if v == json.null then return "bext.json.null" end
  if type(v) == "string" then return string.format("%q", v) end
  if type(v) ~= "table" then return tostring(v) end
  if depth > 3 then return "{...}" end
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b)
    if type(a) == type(b) and (type(a) == "number" or type(a) == "string") then return a < b end
    return type(a) < type(b)
  end)
  local parts, n = {}, #v
  for _, k in ipairs(keys) do
    if math.type(k) == "integer" and k >= 1 and k <= n then
      parts[#parts + 1] = show(v[k], depth + 1)
    else
      local name = type(k) == "string" and k:match("^[%a_][%w_]*$") and k or "[" .. show(k) .. "]"
      parts[#parts + 1] = name .. " = " .. show(v[k], depth + 1)
    end
  end
  return "{" .. table.concat(parts, ", ") .. "}"
end

local function same(a, b)
  if a == b then return true end
  if type(a) ~= "table" or type(b) ~= "table" then return false end
  for k, v in pairs(a) do
    if not same(v, b[k]) then return false end
  end
  for k in pairs(b) do
    if a[k] == nil then return false end
  end
  return true
end

local function fail(message, extra)
  error(extra and (message .. " (" .. tostring(extra) .. ")") or message, 3)
end

local asserts = {}
function asserts.equals(expected, actual, message)
  if expected ~= actual then
    fail("expected " .. show(expected) .. ", got " .. show(actual), message)
  end
end
asserts.equal = asserts.equals
function asserts.same(expected, actual, message)
  if not same(expected, actual) then
    fail("expected the same as " .. show(expected) .. ", got " .. show(actual), message)
  end
end
function asserts.truthy(value, message)
  if not value then fail("expected a truthy value, got " .. show(value), message) end
end
function asserts.falsy(value, message)
  if value then fail("expected a falsy value, got " .. show(value), message) end
end
function asserts.is_nil(value, message)
  if value ~= nil then fail("expected nil, got " .. show(value), message) end
end
function asserts.matches(pattern, text, message)
  if type(text) ~= "string" or not text:find(pattern) then
    fail("expected a string matching " .. show(pattern) .. ", got " .. show(text), message)
  end
end
-- error_matches(fn, pattern): fn raises an error whose message matches the
-- Lua pattern (a call to the plugin under test that fails raises its error).
function asserts.error_matches(fn, pattern, message)
  local ok, err = pcall(fn)
  if ok then fail("expected an error matching " .. show(pattern) .. ", got none", message) end
  local text = type(err) == "table" and (err.message or show(err)) or tostring(err)
  if not text:find(pattern) then
    fail("expected an error matching " .. show(pattern) .. ", got " .. show(text), message)
  end
end
local assert_table = setmetatable(asserts, {
  __call = function(_, v, message, ...)
    if not v then error(message or "assertion failed!", 2) end
    return v, message, ...
  end,
})

-- ---- describe / it ----

local root = { children = {}, before = {}, after = {} }
local current = root

-- "spec.lua:12:" of the spec line that called the registering function.
local function where()
  local _, position = pcall(error, "", 4)
  return (tostring(position):match("^(.-:%d+):") or "")
end

local function describe(name, fn)
  local block = { name = tostring(name), parent = current, children = {}, before = {}, after = {} }
  current.children[#current.children + 1] = block
  local outer = current
  current = block
  local ok, err = pcall(fn)
  current = outer
  if not ok then error(err, 0) end
end

local function it(name, fn)
  current.children[#current.children + 1] = { name = tostring(name), fn = fn, where = where() }
end

local function before_each(fn) current.before[#current.before + 1] = fn end
local function after_each(fn) current.after[#current.after + 1] = fn end

local env = setmetatable({
  describe = describe,
  context = describe,
  it = it,
  before_each = before_each,
  after_each = after_each,
  assert = assert_table,
  load_plugin = load_plugin,
  clock = clock,
}, { __index = _G })

local function run_block(block, names, befores, afters, results)
  local inner_before, inner_after = {}, {}
  for _, f in ipairs(befores) do inner_before[#inner_before + 1] = f end
  for _, f in ipairs(block.before) do inner_before[#inner_before + 1] = f end
  for _, f in ipairs(block.after) do inner_after[#inner_after + 1] = f end
  for _, f in ipairs(afters) do inner_after[#inner_after + 1] = f end
  for _, child in ipairs(block.children) do
    local child_names = { table.unpack(names) }
    child_names[#child_names + 1] = child.name
    if child.fn then
      local ok, err = pcall(function()
        for _, f in ipairs(inner_before) do f() end
        child.fn()
      end)
      for _, f in ipairs(inner_after) do
        local after_ok, after_err = pcall(f)
        if ok and not after_ok then ok, err = false, after_err end
      end
      local result = { name = table.concat(child_names, " "), where = child.where }
      if not ok then
        result.error = type(err) == "table" and (err.message or show(err)) or tostring(err)
      end
      results[#results + 1] = result
    else
      run_block(child, child_names, inner_before, inner_after, results)
    end
  end
end

local main = coroutine.create(function()
  local chunk, err = load(spec.source, spec.chunkname, "t", env)
  if not chunk then return { op = "done", error = err } end
  local ok, top_err = pcall(chunk)
  if not ok then return { op = "done", error = tostring(top_err) } end
  local results = json.array()
  run_block(root, {}, {}, {}, results)
  return { op = "done", results = results }
end)

return {
  step = function(self, reply_json)
    local reply = reply_json and json.decode(reply_json) or nil
    local ok, request = coroutine.resume(main, reply)
    if not ok then request = { op = "done", error = tostring(request) } end
    return json.encode(request)
  end,
}
