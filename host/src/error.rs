//! The library's one error type.

use std::fmt;
use std::sync::Arc;

/// Everything that can go wrong loading or calling a Lua plugin.
///
/// Every variant names the plugin; call-time variants also name the method.
/// Budget and memory exhaustion and traps are classified from wasmtime's
/// error *types* (`Trap::OutOfFuel`, `Trap::Interrupt`, our own
/// heap-exhaustion error), never by matching message text. After any variant
/// for which [`Error::is_trap`] is true the plugin's instance was discarded;
/// the next call gets a fresh one.
///
/// Fields: `plugin` is the plugin's configured name, `method` the script
/// method that was running (`load` while creating a sandbox), `message` the
/// Lua error or the problem, `traceback` Lua's stack traceback.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
#[allow(missing_docs)] // the fields are described once, above
pub enum Error {
    /// The script does not compile (Lua `LUA_ERRSYNTAX`). `message` carries
    /// the chunk name and line: `my-plugin:3: unexpected symbol near 'x'`.
    Syntax { plugin: String, message: String },
    /// Running the script's top level raised an error.
    ScriptInit {
        plugin: String,
        message: String,
        traceback: String,
    },
    /// The script did not evaluate to a table of methods.
    NotATable { plugin: String, found: String },
    /// The manifest claims a capability the script does not implement.
    CapabilityMismatch { plugin: String, message: String },
    /// A reload was refused because the new script does not define
    /// `methods`, which the running version has: calls to them would start
    /// failing. The running version keeps serving. Allow it with
    /// [`LuaPluginConfig::allow_removing_methods`](crate::LuaPluginConfig::allow_removing_methods).
    MethodsRemoved {
        plugin: String,
        methods: Vec<String>,
    },
    /// A method raised a Lua error (`LUA_ERRRUN`) that the script did not
    /// catch. `code` is the error code the script raised, taken from the
    /// raised value: `error("not_found: ...")` or an error table
    /// `error({code = "not_found", message = "..."})` (see the README's
    /// capability errors); never parsed from the message text.
    Lua {
        plugin: String,
        method: String,
        message: String,
        traceback: String,
        code: Option<String>,
    },
    /// The plugin table has no such method and the trait has no default.
    MissingMethod { plugin: String, method: String },
    /// The plugin does not provide the capability the host called.
    CapabilityNotProvided { plugin: String, capability: String },
    /// A method returned a value of the wrong Lua type.
    WrongReturnType {
        plugin: String,
        method: String,
        expected: &'static str,
        found: String,
    },
    /// A method returned JSON (or an envelope) that is malformed or of the
    /// wrong shape.
    BadEnvelope {
        plugin: String,
        method: String,
        message: String,
    },
    /// Host data could not be handed to the script (for example it would not
    /// serialise to JSON).
    BadInput {
        plugin: String,
        method: String,
        message: String,
    },
    /// A payload in either direction is larger than
    /// [`LuaSandboxLimits::max_payload_bytes`](crate::LuaSandboxLimits::max_payload_bytes).
    PayloadTooLarge {
        plugin: String,
        method: String,
        bytes: usize,
        limit: usize,
    },
    /// The call used up its fuel budget (uncatchable by `pcall`).
    OutOfFuel {
        plugin: String,
        method: String,
        fuel_limit: u64,
    },
    /// The call ran past its wall-clock deadline (uncatchable by `pcall`).
    Timeout {
        plugin: String,
        method: String,
        timeout_ms: u64,
        elapsed_ms: u64,
    },
    /// The sandbox's heap reached
    /// [`LuaSandboxLimits::max_heap_bytes`](crate::LuaSandboxLimits::max_heap_bytes)
    /// even after an emergency garbage collection (uncatchable by `pcall`).
    MemoryLimit {
        plugin: String,
        method: String,
        limit_bytes: usize,
    },
    /// The wasm call stack overflowed (deep recursion through C).
    StackOverflow { plugin: String, method: String },
    /// Any other trap inside the sandbox: a guest bug or a compromised guest.
    Trap {
        plugin: String,
        method: String,
        message: String,
    },
    /// The guest broke the host ABI (pointers out of bounds, bad status).
    Abi {
        plugin: String,
        method: String,
        message: String,
    },
    /// Every sandbox of the plugin's pool stayed busy for the whole
    /// `acquire_timeout_ms`.
    PoolTimeout {
        plugin: String,
        waited_ms: u64,
        max_size: usize,
    },
    /// An async call waited `waited_ms` for one of the plugin's
    /// `max_concurrent_calls` permits
    /// ([`PoolConfig::max_concurrent_calls`](crate::PoolConfig::max_concurrent_calls))
    /// for the whole `acquire_timeout_ms` (immediately outside a tokio
    /// runtime, which has no timer to wait with).
    ConcurrencyLimit {
        plugin: String,
        method: String,
        waited_ms: u64,
        max_concurrent_calls: usize,
    },
    /// `recent_traps` of the plugin's recent calls failed (trapped, or
    /// starved behind trapping calls) and it is in quarantine: calls fail at
    /// once, without entering a sandbox, for another `retry_after_ms`
    /// milliseconds (see
    /// [`LuaSandboxLimits::quarantine_after_traps`](crate::LuaSandboxLimits::quarantine_after_traps)).
    Quarantined {
        plugin: String,
        method: String,
        retry_after_ms: u64,
        recent_traps: u32,
    },
    /// Every pre-reserved instance slot ([`PoolingLimits`](crate::PoolingLimits))
    /// is in use, or the plugin asks for a larger heap than the slots hold.
    CapacityExhausted { plugin: String, message: String },
    /// The wasm engine could not be set up (configuration or resources).
    /// `source` is wasmtime's error.
    Engine { message: String, source: Cause },
    /// A host function the guest called (`import`: `bext.metric`,
    /// `bext.log`, ...) panicked, for example in the embedder's
    /// [`MetricsSink`](crate::MetricsSink) or tracing subscriber. The panic
    /// is contained at the boundary: the call fails with this error and the
    /// sandbox it ran in is discarded (its Lua state was left mid-call).
    HostPanic {
        plugin: String,
        method: String,
        import: &'static str,
        message: String,
    },
    /// A setting the embedder gave cannot work or would exhaust the host
    /// (`setting` names it, as `PoolConfig::max_size`; `reason` says why).
    /// Returned by [`LuaPluginRuntime::with_config`](crate::LuaPluginRuntime::with_config)
    /// (`plugin` is `None`) and [`LuaPluginRuntime::load_plugin`](crate::LuaPluginRuntime::load_plugin).
    InvalidConfig {
        plugin: Option<String>,
        setting: &'static str,
        reason: String,
    },
    /// A `bext.shared` backend could not be set up (a malformed Redis URL).
    /// `source` is the backend client's error.
    SharedBackend { message: String, source: Cause },
}

impl Error {
    /// The plugin this error is about, if any.
    pub fn plugin(&self) -> Option<&str> {
        use Error::*;
        match self {
            Syntax { plugin, .. }
            | ScriptInit { plugin, .. }
            | NotATable { plugin, .. }
            | CapabilityMismatch { plugin, .. }
            | MethodsRemoved { plugin, .. }
            | Lua { plugin, .. }
            | MissingMethod { plugin, .. }
            | CapabilityNotProvided { plugin, .. }
            | WrongReturnType { plugin, .. }
            | BadEnvelope { plugin, .. }
            | BadInput { plugin, .. }
            | PayloadTooLarge { plugin, .. }
            | OutOfFuel { plugin, .. }
            | Timeout { plugin, .. }
            | MemoryLimit { plugin, .. }
            | StackOverflow { plugin, .. }
            | Trap { plugin, .. }
            | Abi { plugin, .. }
            | PoolTimeout { plugin, .. }
            | ConcurrencyLimit { plugin, .. }
            | CapacityExhausted { plugin, .. }
            | Quarantined { plugin, .. }
            | HostPanic { plugin, .. } => Some(plugin),
            InvalidConfig { plugin, .. } => plugin.as_deref(),
            Engine { .. } | SharedBackend { .. } => None,
        }
    }

    /// The variant's name in snake_case (`"out_of_fuel"`, `"lua"`, ...): a
    /// stable label for metrics and traces, which the message is not.
    pub fn kind(&self) -> &'static str {
        use Error::*;
        match self {
            Syntax { .. } => "syntax",
            ScriptInit { .. } => "script_init",
            NotATable { .. } => "not_a_table",
            CapabilityMismatch { .. } => "capability_mismatch",
            MethodsRemoved { .. } => "methods_removed",
            Lua { .. } => "lua",
            MissingMethod { .. } => "missing_method",
            CapabilityNotProvided { .. } => "capability_not_provided",
            WrongReturnType { .. } => "wrong_return_type",
            BadEnvelope { .. } => "bad_envelope",
            BadInput { .. } => "bad_input",
            PayloadTooLarge { .. } => "payload_too_large",
            OutOfFuel { .. } => "out_of_fuel",
            Timeout { .. } => "timeout",
            MemoryLimit { .. } => "memory_limit",
            StackOverflow { .. } => "stack_overflow",
            Trap { .. } => "trap",
            Abi { .. } => "abi",
            PoolTimeout { .. } => "pool_timeout",
            ConcurrencyLimit { .. } => "concurrency_limit",
            Quarantined { .. } => "quarantined",
            CapacityExhausted { .. } => "capacity_exhausted",
            Engine { .. } => "engine",
            HostPanic { .. } => "host_panic",
            InvalidConfig { .. } => "invalid_config",
            SharedBackend { .. } => "shared_backend",
        }
    }

    /// How long a caller should wait before trying again, for the errors
    /// that are about load rather than the request:
    /// [`PoolTimeout`](Error::PoolTimeout) (as long as it waited, at least
    /// 1 ms: the pool was busy that long) and
    /// [`Quarantined`](Error::Quarantined) (until the cool-down ends). A
    /// server can put it in a `retry-after` header. `None` for every other
    /// error.
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        match self {
            Error::PoolTimeout { waited_ms, .. } => {
                Some(std::time::Duration::from_millis((*waited_ms).max(1)))
            }
            Error::Quarantined { retry_after_ms, .. } => {
                Some(std::time::Duration::from_millis(*retry_after_ms))
            }
            _ => None,
        }
    }

    /// True when the sandbox trapped and its instance was discarded: budget,
    /// memory and stack exhaustion, other traps, ABI violations and panics
    /// of host functions.
    pub fn is_trap(&self) -> bool {
        matches!(
            self,
            Error::OutOfFuel { .. }
                | Error::Timeout { .. }
                | Error::MemoryLimit { .. }
                | Error::StackOverflow { .. }
                | Error::Trap { .. }
                | Error::Abi { .. }
                | Error::HostPanic { .. }
        )
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use Error::*;
        match self {
            Syntax { plugin, message } => {
                write!(f, "lua plugin `{plugin}`: syntax error: {message}")
            }
            ScriptInit {
                plugin, message, ..
            } => {
                write!(
                    f,
                    "lua plugin `{plugin}`: error while loading the script: {message}"
                )
            }
            NotATable { plugin, found } => {
                write!(
                    f,
                    "lua plugin `{plugin}`: the script must return a table of methods, it returned {found}"
                )
            }
            CapabilityMismatch { plugin, message } => write!(f, "lua plugin `{plugin}`: {message}"),
            MethodsRemoved { plugin, methods } => write!(
                f,
                "lua plugin `{plugin}`: reload refused: the new script does not define `{}`, which the running \
                 version has (LuaPluginConfig::allow_removing_methods allows it)",
                methods.join("`, `")
            ),
            Lua {
                plugin,
                method,
                message,
                ..
            } => write!(f, "lua plugin `{plugin}`: {method}: {message}"),
            MissingMethod { plugin, method } => write!(
                f,
                "lua plugin `{plugin}`: the script defines no method `{method}`"
            ),
            CapabilityNotProvided { plugin, capability } => {
                write!(
                    f,
                    "lua plugin `{plugin}`: the plugin does not provide the {capability} capability"
                )
            }
            WrongReturnType {
                plugin,
                method,
                expected,
                found,
            } => {
                write!(
                    f,
                    "lua plugin `{plugin}`: {method} must return {expected}, it returned {found}"
                )
            }
            BadEnvelope {
                plugin,
                method,
                message,
            } => {
                write!(
                    f,
                    "lua plugin `{plugin}`: {method} returned malformed data: {message}"
                )
            }
            BadInput {
                plugin,
                method,
                message,
            } => {
                write!(
                    f,
                    "lua plugin `{plugin}`: cannot pass the arguments of {method}: {message}"
                )
            }
            PayloadTooLarge {
                plugin,
                method,
                bytes,
                limit,
            } => write!(
                f,
                "lua plugin `{plugin}`: {method}: payload of {bytes} bytes exceeds the limit of {limit} bytes"
            ),
            OutOfFuel {
                plugin,
                method,
                fuel_limit,
            } => {
                write!(
                    f,
                    "lua plugin `{plugin}`: {method} ran out of fuel (budget {fuel_limit})"
                )
            }
            Timeout {
                plugin,
                method,
                timeout_ms,
                elapsed_ms,
            } => write!(
                f,
                "lua plugin `{plugin}`: {method} exceeded its deadline of {timeout_ms} ms (stopped after {elapsed_ms} ms)"
            ),
            MemoryLimit {
                plugin,
                method,
                limit_bytes,
            } => write!(
                f,
                "lua plugin `{plugin}`: {method} exhausted the sandbox memory limit of {limit_bytes} bytes"
            ),
            StackOverflow { plugin, method } => write!(
                f,
                "lua plugin `{plugin}`: {method} overflowed the wasm stack"
            ),
            Trap {
                plugin,
                method,
                message,
            } => write!(f, "lua plugin `{plugin}`: {method} trapped: {message}"),
            Abi {
                plugin,
                method,
                message,
            } => {
                write!(
                    f,
                    "lua plugin `{plugin}`: {method}: the guest broke the host ABI: {message}"
                )
            }
            PoolTimeout {
                plugin,
                waited_ms,
                max_size,
            } => write!(
                f,
                "lua plugin `{plugin}`: all {max_size} sandboxes stayed busy for {waited_ms} ms"
            ),
            ConcurrencyLimit {
                plugin,
                method,
                waited_ms,
                max_concurrent_calls,
            } => write!(
                f,
                "lua plugin `{plugin}`: {method} refused: all {max_concurrent_calls} concurrent calls allowed \
                 stayed busy for {waited_ms} ms"
            ),
            Quarantined {
                plugin,
                method,
                retry_after_ms,
                recent_traps,
            } => write!(
                f,
                "lua plugin `{plugin}`: {method} refused: the plugin is quarantined after {recent_traps} \
                 failed calls among its recent ones (retry in {retry_after_ms} ms)"
            ),
            CapacityExhausted { plugin, message } => write!(
                f,
                "lua plugin `{plugin}`: no sandbox capacity left: {message}"
            ),
            Engine { message, .. } => write!(f, "wasm engine: {message}"),
            HostPanic {
                plugin,
                method,
                import,
                message,
            } => write!(
                f,
                "lua plugin `{plugin}`: {method}: the host function {import} panicked: {message} (sandbox discarded)"
            ),
            InvalidConfig {
                plugin: Some(plugin),
                setting,
                reason,
            } => {
                write!(f, "lua plugin `{plugin}`: invalid {setting}: {reason}")
            }
            InvalidConfig {
                plugin: None,
                setting,
                reason,
            } => write!(f, "invalid {setting}: {reason}"),
            SharedBackend { message, .. } => write!(f, "bext.shared backend: {message}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Engine { source, .. } | Error::SharedBackend { source, .. } => Some(&*source.0),
            _ => None,
        }
    }
}

/// The underlying error of an [`Error`] that another library raised (the
/// engine's, a backend client's), reached through
/// [`std::error::Error::source`]. Cheap to clone; two causes compare equal
/// when their messages do, so [`Error`] stays `Clone + PartialEq`.
#[derive(Clone)]
pub struct Cause(Arc<dyn std::error::Error + Send + Sync + 'static>);

impl Cause {
    /// A cause holding `error`.
    pub fn new(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Cause(Arc::new(error))
    }

    /// The underlying error.
    pub fn get(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        &*self.0
    }
}

impl fmt::Debug for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&*self.0, f)
    }
}

impl PartialEq for Cause {
    fn eq(&self, other: &Self) -> bool {
        self.0.to_string() == other.0.to_string()
    }
}

impl From<wasmtime::Error> for Cause {
    fn from(error: wasmtime::Error) -> Self {
        Cause(Arc::from(Box::<dyn std::error::Error + Send + Sync>::from(
            error,
        )))
    }
}

/// The error of the `bext-plugin-api` trait methods that return
/// `Result<_, String>`: the message, naming plugin and method. The traits
/// with a typed error (`SessionError`, `MailerError`, ...) have their own
/// `From<Error>` in their adapter, mapping the script's error code.
impl From<Error> for String {
    fn from(error: Error) -> String {
        error.to_string()
    }
}

/// Crate-wide result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
