//! One sandbox: a wasmtime store and instance holding one Lua state with one
//! plugin loaded. Budgets are armed here before every entry into the guest,
//! and every failure is classified into an [`Error`] here.

use crate::abi::{
    self, AbiViolation, Arg, GuestExports, GuestOutOfMemory, Output, OutputTooLarge, Status,
};
use crate::engine::EngineShared;
use crate::error::Error;
use crate::fork::{ForkTemplate, PagesBy};
use crate::imports::{HeapExhausted, HostFunctionPanicked};
use crate::limits::{LuaSandboxLimits, arm, arm_async, fuel_used};
use crate::state::{HostState, PluginIdentity};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::Instant;
use wasmtime::{Store, Trap};

/// What a sandbox is made from: the plugin's script and settings.
pub(crate) struct PluginSpec {
    pub(crate) identity: Arc<PluginIdentity>,
    pub(crate) source: Arc<str>,
    pub(crate) config_json: String,
    pub(crate) limits: LuaSandboxLimits,
}

impl PluginSpec {
    pub(crate) fn name(&self) -> &str {
        &self.identity.name
    }
}

/// The methods and priority a loaded script declares.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct PluginShape {
    pub(crate) priority: Option<i64>,
    pub(crate) methods: std::collections::BTreeSet<String>,
}

pub(crate) struct Sandbox {
    store: Store<HostState>,
    guest: GuestExports,
    /// Reused encoding buffer for call arguments.
    scratch: Vec<u8>,
    /// Fuel the last call consumed (0 when fuel metering is off, and when
    /// the call was stopped at its deadline: then it is unknown).
    pub(crate) last_fuel_used: u64,
}

/// Method name used in errors raised while creating and loading a sandbox.
const LOAD: &str = "load";

/// Fuel for making an instance ready (instantiating, copying a template,
/// reseeding), which no script controls.
const INIT_FUEL: u64 = 20_000_000;

/// Fuel between two yields of an async call when the runtime meters fuel
/// but has no epoch ticks: about a millisecond of guest work.
const FUEL_YIELD_INTERVAL: u64 = 2_000_000;

impl Sandbox {
    /// A sandbox with the script loaded from source: an instance of the
    /// generic snapshot that parses and runs the script.
    pub(crate) fn new(engine: &EngineShared, spec: &PluginSpec) -> Result<Sandbox, Error> {
        let mut sandbox = Self::instantiate(engine, spec, None)?;
        let started = arm(&mut sandbox.store, &engine.config, &spec.limits);
        let (status, out) = enter(|| {
            sandbox.guest.load(
                &mut sandbox.store,
                spec.name(),
                &spec.config_json,
                &spec.source,
            )
        })
        .map_err(|e| classify(e, spec, LOAD, started))?;
        if status != Status::Ok {
            return Err(load_error(spec, status, out));
        }
        Ok(sandbox)
    }

    /// A sandbox forked from `template`: an instance of the generic snapshot
    /// with the template's pages mapped or copied in. Nothing is parsed or run.
    pub(crate) fn fork(
        engine: &EngineShared,
        spec: &PluginSpec,
        template: &ForkTemplate,
    ) -> Result<Sandbox, Error> {
        Self::instantiate(engine, spec, Some(template))
    }

    /// The pages of this sandbox's memory that differ from the generic
    /// snapshot: call right after [`new`](Self::new), before any method.
    pub(crate) fn template(&self, engine: &EngineShared) -> ForkTemplate {
        ForkTemplate::capture(&engine.image, self.guest.memory.data(&self.store))
    }

    /// An instance of the generic snapshot (optionally made equal to a
    /// template), reseeded. Runs under a fixed budget: this is our work, not
    /// the script's.
    fn instantiate(
        engine: &EngineShared,
        spec: &PluginSpec,
        template: Option<&ForkTemplate>,
    ) -> Result<Sandbox, Error> {
        let mut store = Store::new(
            &engine.engine,
            HostState::new(spec.identity.clone(), spec.limits.max_heap_bytes),
        );
        store.limiter(|state| &mut state.limiter);
        let started = arm(
            &mut store,
            &engine.config,
            &spec.limits.clone().fuel_per_call(INIT_FUEL),
        );
        let fail = |e| classify(e, spec, LOAD, started);

        let instance = engine.instance_pre.instantiate(&mut store).map_err(fail)?;
        let guest = GuestExports::new(&mut store, &instance).map_err(fail)?;
        store.data_mut().memory = Some(guest.memory);
        if let Some(template) = template {
            template
                .apply(
                    guest.memory,
                    &mut store,
                    PagesBy::for_config(&engine.config),
                )
                .map_err(fail)?;
        }
        let (status, out) = enter(|| guest.reseed(&mut store)).map_err(fail)?;
        if status != Status::Ok {
            return Err(load_error(spec, status, out));
        }
        Ok(Sandbox {
            store,
            guest,
            scratch: Vec::new(),
            last_fuel_used: 0,
        })
    }

    /// [`new`](Self::new) for the async API: every guest entry, the
    /// script's load included, yields to the executor at each epoch tick.
    pub(crate) async fn new_async(
        engine: &EngineShared,
        spec: &PluginSpec,
    ) -> Result<Sandbox, Error> {
        let mut sandbox = Self::instantiate_async(engine, spec, None).await?;
        let started = arm_async(&mut sandbox.store, &engine.config, &spec.limits);
        let loaded = sandbox.guest.load_async(
            &mut sandbox.store,
            spec.name(),
            &spec.config_json,
            &spec.source,
        );
        let (status, out) = enter_async(loaded)
            .await
            .map_err(|e| classify(e, spec, LOAD, started))?;
        if status != Status::Ok {
            return Err(load_error(spec, status, out));
        }
        Ok(sandbox)
    }

    /// [`fork`](Self::fork) for the async API.
    pub(crate) async fn fork_async(
        engine: &EngineShared,
        spec: &PluginSpec,
        template: &ForkTemplate,
    ) -> Result<Sandbox, Error> {
        Self::instantiate_async(engine, spec, Some(template)).await
    }

    /// [`instantiate`](Self::instantiate) for the async API. The store is
    /// the same kind; only its deadline handling differs (see [`arm_async`]),
    /// so such a sandbox is only ever entered through `*_async` calls.
    async fn instantiate_async(
        engine: &EngineShared,
        spec: &PluginSpec,
        template: Option<&ForkTemplate>,
    ) -> Result<Sandbox, Error> {
        let mut store = Store::new(
            &engine.engine,
            HostState::new(spec.identity.clone(), spec.limits.max_heap_bytes),
        );
        store.limiter(|state| &mut state.limiter);
        if engine.config.fuel_metering && !engine.config.epoch_deadlines {
            // Without epoch ticks, fuel is what makes a long call yield.
            // Only fails when fuel metering is off, checked above.
            let _ = store.fuel_async_yield_interval(Some(FUEL_YIELD_INTERVAL));
        }
        let started = arm_async(
            &mut store,
            &engine.config,
            &spec.limits.clone().fuel_per_call(INIT_FUEL),
        );
        let fail = |e| classify(e, spec, LOAD, started);

        let instance = enter_async(engine.async_instance_pre.instantiate_async(&mut store))
            .await
            .map_err(fail)?;
        let guest = enter_async(GuestExports::new_async(&mut store, &instance))
            .await
            .map_err(fail)?;
        store.data_mut().memory = Some(guest.memory);
        if let Some(template) = template {
            template
                .apply(
                    guest.memory,
                    &mut store,
                    PagesBy::for_config(&engine.config),
                )
                .map_err(fail)?;
        }
        let (status, out) = enter_async(guest.reseed_async(&mut store))
            .await
            .map_err(fail)?;
        if status != Status::Ok {
            return Err(load_error(spec, status, out));
        }
        Ok(Sandbox {
            store,
            guest,
            scratch: Vec::new(),
            last_fuel_used: 0,
        })
    }

    /// Calls `plugin:method(args...)` and returns its first result.
    ///
    /// An error for which [`Error::is_trap`] holds leaves this sandbox
    /// unusable: the caller must drop it.
    pub(crate) fn call(
        &mut self,
        engine: &EngineShared,
        spec: &PluginSpec,
        method: &str,
        args: &[Arg<'_>],
    ) -> Result<Output, Error> {
        self.encode(spec, method, args)?;
        let started = arm(&mut self.store, &engine.config, &spec.limits);
        // Outputs over the limit stay in the guest: the host never copies more.
        let limit = spec.limits.max_payload_bytes;
        let result = enter(|| {
            self.guest
                .call(&mut self.store, &self.scratch, method.len(), limit)
        });
        self.finish_call(engine, spec, method, started, result)
    }

    /// [`call`](Self::call) for a sandbox made by [`new_async`](Self::new_async)
    /// or [`fork_async`](Self::fork_async): the guest yields to the executor
    /// at every epoch tick. If the future is dropped before it completes, the
    /// Lua state is left mid-call: the caller must drop this sandbox.
    pub(crate) async fn call_async(
        &mut self,
        engine: &EngineShared,
        spec: &PluginSpec,
        method: &str,
        args: &[Arg<'_>],
    ) -> Result<Output, Error> {
        self.encode(spec, method, args)?;
        let started = arm_async(&mut self.store, &engine.config, &spec.limits);
        let limit = spec.limits.max_payload_bytes;
        let result =
            enter_async(
                self.guest
                    .call_async(&mut self.store, &self.scratch, method.len(), limit),
            )
            .await;
        self.finish_call(engine, spec, method, started, result)
    }

    /// Accounts a returned entry's fuel and turns its outcome into the call's
    /// result (both modes).
    fn finish_call(
        &mut self,
        engine: &EngineShared,
        spec: &PluginSpec,
        method: &str,
        started: Instant,
        result: Result<(Status, Output), abi::CallError>,
    ) -> Result<Output, Error> {
        self.last_fuel_used = fuel_used(&self.store, &engine.config, &spec.limits);
        let (status, out) = result.map_err(|e| {
            let error = classify(e, spec, method, started);
            if matches!(error, Error::Timeout { .. }) {
                // Compiled code keeps the fuel counter in a register and
                // wasmtime does not store it back when an epoch deadline
                // interrupts the call: what the store holds is stale, so
                // the call's fuel is unknown, not what it would read.
                self.last_fuel_used = 0;
            }
            error
        })?;
        call_result(spec, method, status, out)
    }

    /// Encodes a call into `scratch`, within the payload limit.
    fn encode(&mut self, spec: &PluginSpec, method: &str, args: &[Arg<'_>]) -> Result<(), Error> {
        let limit = spec.limits.max_payload_bytes;
        abi::encode_call(&mut self.scratch, method, args);
        if self.scratch.len() > limit {
            return Err(Error::PayloadTooLarge {
                plugin: spec.name().into(),
                method: method.into(),
                bytes: self.scratch.len(),
                limit,
            });
        }
        Ok(())
    }

    /// The loaded script's methods and priority.
    pub(crate) fn describe(
        &mut self,
        engine: &EngineShared,
        spec: &PluginSpec,
    ) -> Result<PluginShape, Error> {
        let started = arm(&mut self.store, &engine.config, &spec.limits);
        let (status, out) = enter(|| self.guest.describe(&mut self.store))
            .map_err(|e| classify(e, spec, LOAD, started))?;
        match (status, out) {
            (Status::Ok, Output::Str(summary)) => {
                parse_summary(&summary).map_err(|message| Error::Abi {
                    plugin: spec.name().into(),
                    method: LOAD.into(),
                    message: format!("describe: {message}"),
                })
            }
            (status, out) => Err(Error::Abi {
                plugin: spec.name().into(),
                method: LOAD.into(),
                message: format!("describe returned {status:?} with {}", out.text()),
            }),
        }
    }
}

/// Runs a guest entry. The `bext.*` imports contain their own panics
/// ([`crate::imports`]); a panic from elsewhere in the host (a WASI function)
/// reaches here once wasmtime has unwound the guest's frames, and becomes a
/// trap too, so the sandbox is discarded instead of unwinding the caller.
fn enter<T>(entry: impl FnOnce() -> wasmtime::Result<T>) -> wasmtime::Result<T> {
    // AssertUnwindSafe: after a panic the sandbox is discarded, never reused.
    catch_unwind(AssertUnwindSafe(entry)).unwrap_or_else(|payload| Err(entry_panicked(payload)))
}

/// [`enter`] for an entry awaited by the async API: a host panic while the
/// guest runs on its fiber is resumed by wasmtime in `poll`, where it is
/// caught and becomes the same trap.
async fn enter_async<T>(entry: impl Future<Output = wasmtime::Result<T>>) -> wasmtime::Result<T> {
    let mut entry = std::pin::pin!(entry);
    std::future::poll_fn(|cx| {
        // AssertUnwindSafe: after a panic the sandbox is discarded, never reused.
        catch_unwind(AssertUnwindSafe(|| entry.as_mut().poll(cx)))
            .unwrap_or_else(|payload| std::task::Poll::Ready(Err(entry_panicked(payload))))
    })
    .await
}

/// The trap for a host panic caught at a guest entry: the `bext.*` imports
/// catch their own, so what reaches an entry came from a WASI function.
fn entry_panicked(payload: Box<dyn std::any::Any + Send>) -> wasmtime::Error {
    HostFunctionPanicked::new("wasi_snapshot_preview1", &*payload).into()
}

/// Reads `bext_describe`'s summary: the priority (empty or a decimal
/// integer), then one Lua identifier per line. Anything else is refused: a
/// method name is never a line the script could shape.
fn parse_summary(summary: &[u8]) -> Result<PluginShape, String> {
    let summary =
        std::str::from_utf8(summary).map_err(|_| "the summary is not UTF-8".to_string())?;
    let mut lines = summary.split('\n');
    let priority = match lines.next().unwrap_or("") {
        "" => None,
        text => Some(
            parse_decimal_i64(text)
                .ok_or_else(|| format!("priority {text:?} is not an integer"))?,
        ),
    };
    let mut methods = std::collections::BTreeSet::new();
    for name in lines {
        if !is_lua_identifier(name) {
            return Err(format!("method name {name:?} is not a Lua identifier"));
        }
        methods.insert(name.to_string());
    }
    Ok(PluginShape { priority, methods })
}

/// `[A-Za-z_][A-Za-z0-9_]*`.
fn is_lua_identifier(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// An optional `-` and ASCII digits, nothing else (`str::parse` also takes a
/// leading `+`), in range.
fn parse_decimal_i64(text: &str) -> Option<i64> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| text.parse().ok())
        .flatten()
}

/// What a call's status and output mean for the caller.
fn call_result(
    spec: &PluginSpec,
    method: &str,
    status: Status,
    out: Output,
) -> Result<Output, Error> {
    let plugin = || spec.name().to_string();
    match status {
        // Outputs over the payload limit were refused before being copied
        // ([`OutputTooLarge`], classified as `PayloadTooLarge`).
        Status::Ok => Ok(out),
        Status::Runtime => {
            let (message, traceback) = split_traceback(&out.text());
            Err(Error::Lua {
                plugin: plugin(),
                method: method.into(),
                message,
                traceback,
                code: None,
            })
        }
        Status::RuntimeCode => {
            let text = out.text();
            let (code, rest) = text.split_once('\n').unwrap_or((text.as_str(), ""));
            if !is_error_code(code) {
                return Err(Error::Abi {
                    plugin: plugin(),
                    method: method.into(),
                    message: format!("malformed error code {code:?}"),
                });
            }
            let (message, traceback) = split_traceback(rest);
            Err(Error::Lua {
                plugin: plugin(),
                method: method.into(),
                message,
                traceback,
                code: Some(code.into()),
            })
        }
        Status::NoMethod => Err(Error::MissingMethod {
            plugin: plugin(),
            method: method.into(),
        }),
        Status::Memory => Err(memory_limit(spec, method)),
        other => Err(Error::Abi {
            plugin: plugin(),
            method: method.into(),
            message: format!("unexpected status {other:?} from a call: {}", out.text()),
        }),
    }
}

/// Turns what stopped a guest entry into a typed error, by error type.
fn classify(err: wasmtime::Error, spec: &PluginSpec, method: &str, started: Instant) -> Error {
    let plugin = spec.name().to_string();
    let method = method.to_string();
    if let Some(trap) = err.downcast_ref::<Trap>() {
        return match trap {
            Trap::OutOfFuel => Error::OutOfFuel {
                plugin,
                method,
                fuel_limit: spec.limits.fuel_per_call,
            },
            Trap::Interrupt => Error::Timeout {
                plugin,
                method,
                timeout_ms: spec.limits.timeout_ms,
                elapsed_ms: started.elapsed().as_millis() as u64,
            },
            Trap::StackOverflow => Error::StackOverflow { plugin, method },
            other => Error::Trap {
                plugin,
                method,
                message: other.to_string(),
            },
        };
    }
    if err.downcast_ref::<HeapExhausted>().is_some()
        || err.downcast_ref::<GuestOutOfMemory>().is_some()
    {
        return memory_limit(spec, &method);
    }
    if let Some(limit) = err.downcast_ref::<wasmtime::PoolConcurrencyLimitError>() {
        return Error::CapacityExhausted {
            plugin,
            message: limit.to_string(),
        };
    }
    if let Some(too_large) = err.downcast_ref::<OutputTooLarge>() {
        let limit = spec.limits.max_payload_bytes;
        return Error::PayloadTooLarge {
            plugin,
            method,
            bytes: too_large.bytes,
            limit,
        };
    }
    if let Some(panicked) = err.downcast_ref::<HostFunctionPanicked>() {
        return Error::HostPanic {
            plugin,
            method,
            import: panicked.import,
            message: panicked.message.clone(),
        };
    }
    if let Some(violation) = err.downcast_ref::<AbiViolation>() {
        return Error::Abi {
            plugin,
            method,
            message: violation.0.clone(),
        };
    }
    Error::Trap {
        plugin,
        method,
        message: format!("{err:#}"),
    }
}

fn memory_limit(spec: &PluginSpec, method: &str) -> Error {
    Error::MemoryLimit {
        plugin: spec.name().into(),
        method: method.into(),
        limit_bytes: spec.limits.max_heap_bytes,
    }
}

fn load_error(spec: &PluginSpec, status: Status, out: Output) -> Error {
    let plugin = spec.name().to_string();
    match status {
        Status::Syntax => Error::Syntax {
            plugin,
            message: out.text(),
        },
        Status::Runtime => {
            let (message, traceback) = split_traceback(&out.text());
            Error::ScriptInit {
                plugin,
                message,
                traceback,
            }
        }
        Status::NotATable => Error::NotATable {
            plugin,
            found: out.text(),
        },
        Status::Memory => memory_limit(spec, LOAD),
        other => Error::Abi {
            plugin,
            method: LOAD.into(),
            message: format!("status {other:?}: {}", out.text()),
        },
    }
}

/// The shape of an error code: snake_case, `[a-z_]+`, under 64 bytes.
fn is_error_code(code: &str) -> bool {
    (1..64).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
}

/// Splits the shim's "message\nstack traceback:\n..." into its two parts.
fn split_traceback(text: &str) -> (String, String) {
    match text.split_once("\nstack traceback:\n") {
        Some((message, traceback)) => (
            message.to_string(),
            format!("stack traceback:\n{traceback}"),
        ),
        None => (text.to_string(), String::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries_hold_identifiers_and_a_plain_integer_only() {
        let shape = parse_summary(b"-7\nget\non_request\n_x1").unwrap();
        assert_eq!(shape.priority, Some(-7));
        assert_eq!(
            shape.methods.iter().map(String::as_str).collect::<Vec<_>>(),
            ["_x1", "get", "on_request"]
        );
        assert_eq!(parse_summary(b"").unwrap(), PluginShape::default());
        for bad in [
            &b"+5\nget"[..],
            b" 5",
            b"5x",
            b"\nget set",
            b"\n",
            b"\n1get",
            b"\nget\xff",
            b"99999999999999999999",
        ] {
            assert!(
                parse_summary(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
