---@meta sandbox
-- The standard library a plugin sandbox has, where it differs from stock
-- Lua 5.4: the `.luarc.json` beside these files turns off LuaLS's builtin
-- `basic`, `os`, `io`, `debug` and `package` definitions, and this file
-- declares what the sandbox keeps of `basic` and `os`. `string` (without
-- `string.dump`), `table`, `math`, `utf8` and `coroutine` are LuaLS's
-- builtin definitions (LuaLS cannot hide one function of a builtin library:
-- `string.dump` still completes, but it is nil in the sandbox).
--
-- Not in the sandbox: `dofile`, `loadfile`, `require`, `package`, `io`,
-- `debug`, `os.execute`, `os.exit`, `os.getenv`, `os.remove`, `os.rename`,
-- `os.tmpname`, `os.setlocale`, `string.dump`, binary chunks.

---@type table<string, any>
_G = {}

---@type string
_VERSION = "Lua 5.4"

---Raises an error when `v` is false or nil; else returns all its arguments.
---@generic T
---@param v? T
---@param message? any
---@param ... any
---@return T
---@return any ...
function assert(v, message, ...) end

---Controls the garbage collector (`"collect"`, `"count"`, `"step"`, `"isrunning"`, `"incremental"`, `"generational"`).
---@param opt? "collect"|"stop"|"restart"|"count"|"step"|"isrunning"|"incremental"|"generational"
---@param ... any
---@return any
function collectgarbage(opt, ...) end

---Raises `message`. In the sandbox a message starting with a snake_case
---code and a colon (`error("not_found: no such session", 0)`), or an error
---table `{code = ..., message = ...}`, picks the trait error's variant.
---@param message any
---@param level? integer
function error(message, level) end

---@param object any
---@return table?
function getmetatable(object) end

---@generic V
---@param t V[]
---@return fun(t: V[], i: integer): integer, V
---@return V[]
---@return integer
function ipairs(t) end

---Loads a chunk from text (binary chunks are refused in the sandbox).
---@param chunk string|fun(): string?
---@param chunkname? string
---@param mode? "t"
---@param env? table
---@return function?
---@return string? error_message
function load(chunk, chunkname, mode, env) end

---@generic K, V
---@param table table<K, V>
---@param index? K
---@return K?
---@return V?
function next(table, index) end

---@generic K, V
---@param t table<K, V>
---@return fun(table: table<K, V>, index?: K): K, V
---@return table<K, V>
---@return nil
function pairs(t) end

---Calls `f` in protected mode. Budget stops (fuel, deadline, memory) are
---not errors: `pcall` cannot catch them.
---@param f function
---@param ... any
---@return boolean success
---@return any ...
function pcall(f, ...) end

---Logs its arguments at `info` (tab-separated), like `bext.log("info", ...)`;
---nothing goes to standard output.
---@param ... any
function print(...) end

---@param v1 any
---@param v2 any
---@return boolean
function rawequal(v1, v2) end

---@param table table
---@param index any
---@return any
function rawget(table, index) end

---@param v table|string
---@return integer
function rawlen(v) end

---@param table table
---@param index any
---@param value any
---@return table
function rawset(table, index, value) end

---@param index integer|"#"
---@param ... any
---@return any
function select(index, ...) end

---@generic T: table
---@param table T
---@param metatable? table
---@return T
function setmetatable(table, metatable) end

---@param e any
---@param base? integer
---@return number?
function tonumber(e, base) end

---@param v any
---@return string
function tostring(v) end

---@param v any
---@return "nil"|"number"|"string"|"boolean"|"table"|"function"|"thread"|"userdata"
function type(v) end

---@param f function
---@param msgh function
---@param ... any
---@return boolean success
---@return any ...
function xpcall(f, msgh, ...) end

---@param message string
---@param ... any
function warn(message, ...) end

---The sandbox's `os`: time and dates only.
---@class sandbox.os
os = {}

---Seconds since this sandbox's Lua state started (WASI has no CPU clock).
---@return number
function os.clock() end

---@param format? string
---@param time? integer
---@return string|osdate
function os.date(format, time) end

---@param t2 integer
---@param t1 integer
---@return number
function os.difftime(t2, t1) end

---Seconds since the epoch (the host's wall clock), or the time of a date table.
---@param date? osdateparam
---@return integer
function os.time(date) end

---@class osdate
---@field year integer
---@field month integer
---@field day integer
---@field hour integer
---@field min integer
---@field sec integer
---@field wday integer
---@field yday integer
---@field isdst boolean

---@class osdateparam
---@field year integer
---@field month integer
---@field day integer
---@field hour? integer
---@field min? integer
---@field sec? integer
---@field isdst? boolean
