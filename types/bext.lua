---@meta bext
-- Definitions of the `bext` table every plugin sandbox has, for
-- lua-language-server (LuaLS) and EmmyLua. Not loaded by the runtime: the
-- functions are implemented by the guest's C shim (guest/c/shim.c) and
-- `bext.json` in C (guest/c/bext_json.c). `bext-lua types --out DIR` writes
-- these files and a `.luarc.json`; docs/plugins.md is the guide.
--
-- Convention of this file (a test in tests/all/definitions.rs reads it and
-- compares it with the table the guest installs): one `function bext.NAME(`
-- or `bext.NAME = `, `function Json.NAME(` or `Json.NAME = ` (a field of
-- `bext.json`), or `function SharedDict:NAME(` (a method of `bext.shared`)
-- line per entry. The two tables are locals with a class of their own
-- because EmmyLua does not attach `function bext.shared:get` to the field.

---The plugin API the sandbox installs as a global: logging, metrics, the
---plugin's config, the middleware actions, events, JSON and the shared
---dictionary on the host.
---@class bext
---@field json bext.Json JSON in C: `encode`, `decode`, `null`, `array`.
---@field shared bext.SharedDict The plugin's dictionary on the host, shared by all its sandboxes (OpenResty's `lua_shared_dict`).
bext = {}

---A JSON text (an object or array unless said otherwise).
---@alias bext.JsonText string

---What `bext.middleware_continue()` and `bext.middleware_respond()` return:
---`on_request` returns it (or nil, which continues).
---@alias bext.Action string

---@alias bext.LogLevel "error"|"warn"|"info"|"debug"

---Logs `msg` as a `tracing` event at `level`, carrying the plugin's name.
---`print(...)` logs at `info` too.
---@param level bext.LogLevel
---@param msg string
function bext.log(level, msg) end

---Emits a metric to the runtime's `MetricsSink` (default: a `tracing` event).
---@param name string
---@param value number
---@param tags_json? bext.JsonText a JSON object of string tags: `'{"route":"/api"}'`
function bext.emit_metric(name, value, tags_json) end

---This plugin's config section as JSON text (`LuaPluginConfig::config_json`,
---`config.json` of a folder source; default `"{}"`). Decode it once at the
---top level: `local config = bext.json.decode(bext.get_config())`.
---@return bext.JsonText
function bext.get_config() end

---Short-circuits the request with a response, from `on_request`:
---`return bext.middleware_respond('{"status":429,"headers":[["retry-after","60"]],"body":"slow down"}')`.
---Headers may also be an object (`{"retry-after":"60"}`); the body is a string.
---@param envelope_json bext.JsonText `{"status":N,"headers":[[k,v],...]|{k:v},"body":"..."}`
---@param extensions_json? bext.JsonText an object merged into `RequestContext.extensions`
---@return bext.Action
function bext.middleware_respond(envelope_json, extensions_json) end

---Passes the request on, from `on_request`.
---@param extensions_json? bext.JsonText an object merged into `RequestContext.extensions` (strings as they are, other values as their JSON text)
---@return bext.Action
function bext.middleware_continue(extensions_json) end

---A structured `tracing` event about the cache.
---@param kind string `hit`, `miss`, `stale`, `set`, `delete`, ...
---@param key string
function bext.cache_event(kind, key) end

---A structured `tracing` event about the server's lifecycle.
---@param name string
---@param event_json? bext.JsonText
function bext.lifecycle_event(name, event_json) end

---`nil`: a transform returns it to leave the source as it is.
---@return nil
function bext.transform_unchanged() end

---JSON in C. Errors are Lua errors with a position or a path:
---`bext.json.decode: unexpected character '}' (expected a string key) at position 8`.
---@class bext.Json
local Json = {}

---JSON in C (see `bext.Json`).
---@type bext.Json
bext.json = Json

---What JSON `null` decodes to (a light userdata; truthy, so test
---`v == bext.json.null`). Encodes as `null`.
---@type bext.Null
Json.null = nil

---The value of `bext.json.null`: a light userdata.
---@alias bext.Null lightuserdata

---Encodes a value as JSON text. Tables whose keys are 1..n (or marked with
---`bext.json.array`) are arrays; every other table, `{}` included, is an
---object. Cycles, functions, userdata, NaN, infinities and invalid UTF-8
---are errors.
---@param value any
---@return string
function Json.encode(value) end

---Decodes JSON text: objects and arrays become tables (arrays marked as
---such), `null` becomes `bext.json.null`, integers stay integers.
---Cast the result to the shape you expect: `local ctx = bext.json.decode(ctx_json) --[[@as bext.RequestContext]]`.
---@param text string
---@return any
function Json.decode(text) end

---Marks `t` (or a new empty table) as a JSON array, so an empty one encodes
---as `[]` rather than `{}`.
---@generic T: table
---@param t? T
---@return T
function Json.array(t) end

---The plugin's dictionary on the host, shared by every sandbox of the
---plugin (after OpenResty's `ngx.shared.DICT`; TTLs are milliseconds).
---Both `bext.shared:get(k)` and `bext.shared.get(k)` work. Values are
---strings, integers, floats and booleans; keys are 1 to 65,535 bytes.
---Each call costs `SHARED_CALL_FUEL` (2,000) fuel plus 1 per byte.
---@class bext.SharedDict
local SharedDict = {}

---The plugin's dictionary on the host (see `bext.SharedDict`).
---@type bext.SharedDict
bext.shared = SharedDict

---@alias bext.SharedValue string|integer|number|boolean

---The value, or nil.
---@param key string|number
---@return bext.SharedValue? value
---@return string? err `"empty key"` / `"key too long"`
function SharedDict:get(key) end

---Stores `value` (nil deletes).
---@param key string|number
---@param value bext.SharedValue?
---@param ttl_ms? integer 0 or absent: never expires
---@return boolean ok
---@return string? err `"no memory"`, `"empty key"`, `"key too long"`
---@return boolean forcible true when a live entry was evicted to make room
function SharedDict:set(key, value, ttl_ms) end

---As `set`, or `false, "exists", false` when the key is there.
---@param key string|number
---@param value bext.SharedValue
---@param ttl_ms? integer
---@return boolean ok
---@return string? err
---@return boolean forcible
function SharedDict:add(key, value, ttl_ms) end

---As `set`, or `false, "not found", false` when the key is not there.
---@param key string|number
---@param value bext.SharedValue
---@param ttl_ms? integer
---@return boolean ok
---@return string? err
---@return boolean forcible
function SharedDict:replace(key, value, ttl_ms) end

---Adds `by` atomically. An absent key is created as `init` (with
---`init_ttl_ms`) when `init` is given, else the result is `nil, "not found"`;
---`nil, "not a number"` for a value that is not a number.
---@param key string|number
---@param by number
---@param init? number
---@param init_ttl_ms? integer
---@return number? new_value
---@return string? err
---@return boolean? forcible
function SharedDict:incr(key, by, init, init_ttl_ms) end

---Removes the key.
---@param key string|number
function SharedDict:delete(key) end

---Milliseconds left (0: never expires), or `nil, "not found"`.
---@param key string|number
---@return integer? ttl_ms
---@return string? err
function SharedDict:ttl(key) end

---Sets the key's TTL (0 makes it permanent): `true`, or `nil, "not found"`.
---@param key string|number
---@param ttl_ms integer
---@return boolean? ok
---@return string? err
function SharedDict:expire(key, ttl_ms) end

---Up to `limit` live keys (default 1024, 0: all), most recent first.
---@param limit? integer
---@return string[]
function SharedDict:keys(limit) end

---Removes up to `max` expired entries (default: all); returns how many.
---@param max? integer
---@return integer
function SharedDict:flush_expired(max) end

---Empties the dictionary.
function SharedDict:flush_all() end
