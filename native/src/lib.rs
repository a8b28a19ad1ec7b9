//! The native baseline: the same Lua 5.4 scripts on native Lua through mlua
//! (vendored Lua 5.4.8), set up the way bext's mlua tier sets up a plugin.
//!
//! Its users: `bext-lua bench` and the benchmark harness (`bext-lua-bench`,
//! in `benches/`) compare [`NativePlugin`] against the wasm sandbox; the
//! gateway's native tier (`--native`, behind its `native-tier` feature)
//! serves [`NativePlugin`]s behind the same middleware trait; the
//! conformance tests compare [`run_captured`] against the wasm guest's full
//! profile. It does not depend on the runtime crate.
#![warn(missing_docs)]

use mlua::{HookTriggers, Lua, LuaOptions, StdLib, Table, Value, VmState};

/// The error of every native call: mlua's (a Lua error with its message, a
/// memory error, ...).
pub use mlua::Error;
use std::cell::Cell;
use std::rc::Rc;
use std::sync::{Arc, Mutex};

/// bext's mlua tier budget: a count hook every 1000 VM instructions, 200
/// ticks per call, and a 64 MiB heap (the wasm side's defaults mirror these).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NativeLimits {
    /// VM instructions per hook tick. Default 1000.
    pub instructions_per_tick: u32,
    /// Ticks per call before the hook raises an error. Default 200.
    pub ticks_per_call: u64,
    /// Heap limit in bytes. Default 64 MiB.
    pub max_heap_bytes: usize,
    /// Install the count hook at all. Default `true`; `false` is unmetered
    /// native Lua, the baseline of the metering benchmarks.
    pub count_hook: bool,
}

impl Default for NativeLimits {
    fn default() -> Self {
        NativeLimits {
            instructions_per_tick: 1000,
            ticks_per_call: 200,
            max_heap_bytes: 64 << 20,
            count_hook: true,
        }
    }
}

/// A plugin script on native Lua with the sandbox's library subset (base
/// without `dofile`/`loadfile`, `string` without `dump`, `table`, `math`,
/// `utf8`, `coroutine`, `os.time/clock/date/difftime`) and a `bext` table
/// whose functions behave like the guest shim's (logs and metrics are
/// dropped: the baseline measures the Lua side).
pub struct NativePlugin {
    lua: Lua,
    table: Table,
    ticks: Rc<Cell<u64>>,
}

impl std::fmt::Debug for NativePlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NativePlugin").finish_non_exhaustive()
    }
}

impl NativePlugin {
    /// New state, libraries, `bext` table, script loaded and run: the native
    /// cold start. `name` is the chunk name (errors read `name:LINE: ...`).
    pub fn load(
        name: &str,
        source: &str,
        config_json: &str,
        limits: NativeLimits,
    ) -> mlua::Result<Self> {
        let libs = StdLib::COROUTINE
            | StdLib::TABLE
            | StdLib::STRING
            | StdLib::UTF8
            | StdLib::MATH
            | StdLib::OS;
        let lua = Lua::new_with(libs, LuaOptions::default())?;
        lua.set_memory_limit(limits.max_heap_bytes)?;
        let globals = lua.globals();
        globals.set("dofile", Value::Nil)?;
        globals.set("loadfile", Value::Nil)?;
        globals.get::<Table>("string")?.set("dump", Value::Nil)?;
        let os: Table = globals.get("os")?;
        let sandbox_os = lua.create_table()?;
        for keep in ["time", "clock", "date", "difftime"] {
            sandbox_os.set(keep, os.get::<Value>(keep)?)?;
        }
        globals.set("os", sandbox_os)?;
        globals.set("bext", bext_table(&lua, config_json)?)?;

        let ticks = Rc::new(Cell::new(0u64));
        let counter = ticks.clone();
        let max_ticks = limits.ticks_per_call;
        if limits.count_hook {
            lua.set_hook(
                HookTriggers::new().every_nth_instruction(limits.instructions_per_tick),
                move |_, _| {
                    counter.set(counter.get() + 1);
                    if counter.get() > max_ticks {
                        return Err(mlua::Error::runtime("instruction budget exhausted"));
                    }
                    Ok(VmState::Continue)
                },
            )?;
        }
        let table: Table = lua.load(source).set_name(format!("={name}")).eval()?;
        ticks.set(0);
        Ok(NativePlugin { lua, table, ticks })
    }

    /// Calls `plugin:method(arg)` with the budget reset, and returns its
    /// first result as a string: `None` for nil, a table encoded as JSON
    /// (as the guest shim does), other types an error.
    pub fn call(&self, method: &str, arg: &str) -> mlua::Result<Option<String>> {
        use mlua::LuaSerdeExt;
        self.ticks.set(0);
        let function: mlua::Function = self.table.get(method)?;
        match function.call::<Value>((&self.table, arg))? {
            Value::Nil => Ok(None),
            Value::String(s) => Ok(Some(s.to_str()?.to_string())),
            table @ Value::Table(_) => {
                let value: serde_json::Value = self.lua.from_value(table)?;
                Ok(Some(value.to_string()))
            }
            other => Err(mlua::Error::runtime(format!(
                "{method} returned a {}",
                other.type_name()
            ))),
        }
    }

    /// `on_request(self, ctx_json)`: the action JSON.
    pub fn on_request(&self, ctx_json: &str) -> mlua::Result<Option<String>> {
        self.call("on_request", ctx_json)
    }

    /// The Lua state's memory in use, in bytes.
    pub fn used_memory(&self) -> usize {
        self.lua.used_memory()
    }
}

/// The native `bext` table: same functions and return values as the shim's.
fn bext_table(lua: &Lua, config_json: &str) -> mlua::Result<Table> {
    let bext = lua.create_table()?;
    bext.set(
        "log",
        lua.create_function(
            |_, (level, _msg): (String, mlua::LuaString)| match level.as_str() {
                "error" | "warn" | "info" | "debug" => Ok(()),
                other => Err(mlua::Error::runtime(format!(
                    "bad argument #1 to 'log' (invalid option '{other}')"
                ))),
            },
        )?,
    )?;
    bext.set(
        "emit_metric",
        lua.create_function(
            |_, (_name, _value, _tags): (mlua::LuaString, f64, Option<mlua::LuaString>)| Ok(()),
        )?,
    )?;
    let config = config_json.to_string();
    bext.set(
        "get_config",
        lua.create_function(move |_, ()| Ok(config.clone()))?,
    )?;
    bext.set(
        "middleware_respond",
        lua.create_function(|_, (envelope, extensions): (String, Option<String>)| {
            Ok(match extensions {
                None => format!("{{\"action\":\"respond\",\"response\":{envelope}}}"),
                Some(ext) => format!(
                    "{{\"action\":\"respond\",\"response\":{envelope},\"extensions\":{ext}}}"
                ),
            })
        })?,
    )?;
    bext.set(
        "middleware_continue",
        lua.create_function(|_, extensions: Option<String>| {
            Ok(match extensions {
                None => "{\"action\":\"continue\"}".to_string(),
                Some(ext) => format!("{{\"action\":\"continue\",\"extensions\":{ext}}}"),
            })
        })?,
    )?;
    bext.set(
        "cache_event",
        lua.create_function(|_, (_kind, _key): (mlua::LuaString, Option<mlua::LuaString>)| Ok(()))?,
    )?;
    bext.set(
        "lifecycle_event",
        lua.create_function(|_, (_name, _ev): (mlua::LuaString, Option<mlua::LuaString>)| Ok(()))?,
    )?;
    bext.set(
        "transform_unchanged",
        lua.create_function(|_, ()| Ok(Value::Nil))?,
    )?;
    bext.set("json", json_table(lua)?)?;
    bext.set("shared", shared_table(lua)?)?;
    Ok(bext)
}

/// `bext.shared` for the native side: a per-state table with the sandbox's
/// API (`native_shared.lua`), which is what counting in bext's mlua tier
/// amounts to.
fn shared_table(lua: &Lua) -> mlua::Result<Table> {
    let origin = std::time::Instant::now();
    let now_ms = lua.create_function(move |_, ()| Ok(origin.elapsed().as_millis() as i64))?;
    lua.load(include_str!("native_shared.lua"))
        .set_name("=bext.shared")
        .call(now_ms)
}

/// `bext.json` for the native side, through serde_json (the guest's is C).
/// `null` maps to mlua's null light userdata, as `bext.json.null` does.
fn json_table(lua: &Lua) -> mlua::Result<Table> {
    use mlua::LuaSerdeExt;
    let json = lua.create_table()?;
    json.set("null", lua.null())?;
    json.set(
        "decode",
        lua.create_function(|lua, text: mlua::LuaString| {
            let value: serde_json::Value = serde_json::from_slice(&text.as_bytes())
                .map_err(|e| mlua::Error::runtime(format!("bext.json.decode: {e}")))?;
            lua.to_value(&value)
        })?,
    )?;
    json.set(
        "encode",
        lua.create_function(|lua, value: Value| {
            let value: serde_json::Value = lua.from_value(value)?;
            serde_json::to_string(&value)
                .map_err(|e| mlua::Error::runtime(format!("bext.json.encode: {e}")))
        })?,
    )?;
    json.set(
        "array",
        lua.create_function(|lua, t: Option<Table>| {
            let t = match t {
                Some(t) => t,
                None => lua.create_table()?,
            };
            t.set_metatable(Some(lua.array_metatable()))?;
            Ok(t)
        })?,
    )?;
    Ok(json)
}

/// What a chunk printed on native Lua, and the error that stopped it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NativeRun {
    /// Everything `print` and `io.write` wrote.
    pub stdout: Vec<u8>,
    /// The uncaught error, if any.
    pub error: Option<String>,
}

/// Runs `source` (chunk name `=stdin`, like `lua -` reads it) in a fresh
/// native state with every safe standard library and the standalone
/// interpreter's generational GC, capturing `print` and `io.write`.
///
/// `print` and `io.write` are replaced by Lua functions with the stock
/// formatting (`tostring` for print; `%d` for integers and `%.14g` for
/// floats in `io.write`), because native output would otherwise go to this
/// process's stdout. The conformance tests compare this output with the wasm
/// guest's real `print`, so any drift in these stand-ins shows up there.
pub fn run_captured(source: &str) -> NativeRun {
    let out = Arc::new(Mutex::new(Vec::new()));
    let error = run_captured_inner(source, out.clone())
        .err()
        .map(|e| e.to_string());
    let stdout = out.lock().map(|b| b.clone()).unwrap_or_default();
    NativeRun { stdout, error }
}

fn run_captured_inner(source: &str, out: Arc<Mutex<Vec<u8>>>) -> mlua::Result<()> {
    let lua = Lua::new();
    let write = lua.create_function(move |_, s: mlua::LuaString| {
        if let Ok(mut buffer) = out.lock() {
            buffer.extend_from_slice(&s.as_bytes());
        }
        Ok(())
    })?;
    lua.load(CAPTURE_PRELUDE)
        .set_name("=capture")
        .call::<()>(write)?;
    lua.load(source).set_name("=stdin").exec()
}

/// Installs `print` and `io.write` that write through the function given.
const CAPTURE_PRELUDE: &str = r##"
local out = ...
local select, tostring, type, mtype, fmt, error = select, tostring, type, math.type, string.format, error
collectgarbage("generational")
print = function(...)
  local n = select("#", ...)
  for i = 1, n do
    if i > 1 then out("\t") end
    out(tostring((select(i, ...))))
  end
  out("\n")
end
local stdout = io.stdout
io.write = function(...)
  for i = 1, select("#", ...) do
    local v = select(i, ...)
    local t = mtype(v)
    if t == "integer" then out(fmt("%d", v))
    elseif t == "float" then out(fmt("%.14g", v))
    elseif type(v) == "string" then out(v)
    else error(("bad argument #%d to 'write' (string expected, got %s)"):format(i, type(v)), 2) end
  end
  return stdout
end
"##;
