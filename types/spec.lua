---@meta bext.spec
-- The API of `*_spec.lua` files run by `bext-lua test` (busted style).
-- Specs run in a sandbox of their own with the plugin standard library;
-- calls to a plugin go through the runtime as a server's would.

---A group of tests; groups nest, their names prefix the tests' names.
---@param name string
---@param fn fun()
function describe(name, fn) end

---`describe` under busted's other name.
---@param name string
---@param fn fun()
function context(name, fn) end

---One test: it fails when `fn` raises (an assertion, or a plugin error).
---@param name string
---@param fn fun()
function it(name, fn) end

---Runs before each test of the enclosing `describe` (and the groups in it).
---@param fn fun()
function before_each(fn) end

---Runs after each test of the enclosing `describe`, even a failed one.
---@param fn fun()
function after_each(fn) end

---A plugin under test, loaded fresh by the runtime (a new `bext.shared`
---dictionary). Any other field is a plugin method called through the host:
---`plugin:on_request{path = "/"}` returns
---`{action = "continue"|"respond", status?, headers?, body?, extensions}`;
---`plugin:on_response(response, request?)` returns `{status, headers}`;
---other methods return their decoded result; a plugin error is raised at
---the calling line.
---@class bext.spec.Plugin
---@field shared bext.shared the plugin's dictionary (TTLs follow `clock`)
---@field [string] fun(self: bext.spec.Plugin, ...: any): any
local Plugin = {}

---Reloads the plugin with another config (what `bext.get_config()` returns); the dictionary is kept.
---@param config table
function Plugin:set_config(config) end

---The metrics the plugin emitted since the last call of `metrics`.
---@return {name: string, value: number, tags: table<string, string>}[]
function Plugin:metrics() end

---Loads a plugin, `path` relative to the spec file.
---@param path string
---@param options? {config?: table}
---@return bext.spec.Plugin
function load_plugin(path, options) end

---The fake clock the plugins under test see (`os.time`, `os.date`,
---`os.clock`, `bext.shared` TTLs); starts at 2026-01-01T00:00:00Z.
clock = {}

---Milliseconds since the epoch.
---@return integer
function clock.now() end

---Moves the clock forward.
---@param ms integer
---@return integer now
function clock.advance(ms) end

---Sets the clock.
---@param ms integer milliseconds since the epoch
---@return integer now
function clock.set(ms) end

---Assertions; a failure names the spec line. `assert(v, msg)` works as Lua's.
---@class bext.spec.assert
---@overload fun(v: any, message?: any, ...: any): any
assert = {}

---`expected == actual`.
---@param expected any
---@param actual any
---@param message? string
function assert.equals(expected, actual, message) end

---`assert.equals`.
---@param expected any
---@param actual any
---@param message? string
function assert.equal(expected, actual, message) end

---Deep equality of tables.
---@param expected any
---@param actual any
---@param message? string
function assert.same(expected, actual, message) end

---@param value any
---@param message? string
function assert.truthy(value, message) end

---@param value any
---@param message? string
function assert.falsy(value, message) end

---@param value any
---@param message? string
function assert.is_nil(value, message) end

---`text` matches the Lua pattern.
---@param pattern string
---@param text any
---@param message? string
function assert.matches(pattern, text, message) end

---`fn` raises an error whose message matches the Lua pattern.
---@param fn fun()
---@param pattern string
---@param message? string
function assert.error_matches(fn, pattern, message) end
