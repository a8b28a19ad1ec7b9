//! One sandbox: a wasmtime store and instance holding one Lua state with one
//! plugin loaded, entered in the store's [`CallMode`].
//!
//! * [`budget`]: a call's budgets armed before every entry;
//! * [`classify`]: what stopped an entry, as a typed [`Error`];
//! * [`fork`]: fork templates, the pages a script's load changed.

pub(crate) mod budget;
pub(crate) mod classify;
pub(crate) mod fork;

use crate::config::limits::{FUEL_PER_KILO_INSTRUCTIONS, LuaSandboxLimits, wasm_fuel};
use crate::engine::GuestEngine;
use crate::error::Error;
use crate::guest::abi::{self, Arg, GuestExports, Output, Status};
use crate::guest::call_mode::{CallMode, enter};
use crate::guest::state::{HostState, PluginServices};
use classify::{call_result, classify, load_error};
use fork::{ForkTemplate, PagesBy, TemplatePages};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Instant;
use wasmtime::Store;

/// What a sandbox is made from: the plugin's script and settings.
pub(crate) struct SandboxSpec {
    pub(crate) services: Arc<PluginServices>,
    pub(crate) source: Arc<str>,
    pub(crate) config_json: String,
    pub(crate) limits: LuaSandboxLimits,
}

impl SandboxSpec {
    pub(crate) fn name(&self) -> &str {
        &self.services.name
    }
}

/// The methods and priority a loaded script's table declares.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ScriptExports {
    pub(crate) priority: Option<i64>,
    pub(crate) methods: BTreeSet<String>,
}

pub(crate) struct Sandbox {
    store: Store<HostState>,
    guest: GuestExports,
    /// How this store enters the guest, fixed when it was made: its
    /// deadline handling is set up for that mode (see [`budget::arm`]).
    mode: CallMode,
    /// Reused encoding buffer for call arguments.
    scratch: Vec<u8>,
    /// Fuel the last call consumed (0 when fuel metering is off, and when
    /// the call was stopped at its deadline: then it is unknown).
    pub(crate) last_fuel_used: u64,
    /// The fork template's pages this sandbox's memory may map: declared
    /// after the store, so they outlive it.
    _template_pages: Option<TemplatePages>,
}

/// Method name used in errors raised while creating and loading a sandbox.
pub(crate) const LOAD: &str = "load";

/// Fuel for making an instance ready (instantiating, copying a template,
/// reseeding), which no script controls.
const INIT_FUEL: u64 = 20_000_000;

/// Fuel between two yields of an async call when the runtime meters fuel
/// but has no epoch ticks: 100,000 Lua instructions, about half a
/// millisecond of a loop.
const FUEL_YIELD_INTERVAL: u64 = 100 * FUEL_PER_KILO_INSTRUCTIONS;

impl Sandbox {
    /// A sandbox with the script loaded from source: an instance of the
    /// generic snapshot that parses and runs the script.
    pub(crate) async fn new(
        mode: CallMode,
        engine: &GuestEngine,
        spec: &SandboxSpec,
    ) -> Result<Sandbox, Error> {
        let mut sandbox = Self::instantiate(mode, engine, spec, None).await?;
        let started = budget::arm(mode, &mut sandbox.store, &engine.config, &spec.limits);
        let loaded = sandbox.guest.load(
            mode,
            &mut sandbox.store,
            spec.name(),
            &spec.config_json,
            &spec.source,
        );
        let (status, out) = enter(loaded)
            .await
            .map_err(|e| classify(e, spec, LOAD, started))?;
        if status != Status::Ok {
            return Err(load_error(spec, status, out));
        }
        Ok(sandbox)
    }

    /// A sandbox forked from `template`: an instance of the generic snapshot
    /// with the template's pages mapped or copied in. Nothing is parsed or run.
    pub(crate) async fn fork(
        mode: CallMode,
        engine: &GuestEngine,
        spec: &SandboxSpec,
        template: &ForkTemplate,
    ) -> Result<Sandbox, Error> {
        Self::instantiate(mode, engine, spec, Some(template)).await
    }

    /// The pages of this sandbox's memory that differ from the generic
    /// snapshot: call right after [`new`](Self::new), before any method.
    /// `compacted`: kept as the changed words only, for a plugin that starts
    /// with no sandbox (see `sandbox/fork.rs`).
    pub(crate) fn template(&self, engine: &GuestEngine, compacted: bool) -> ForkTemplate {
        let memory = self.guest.memory.data(&self.store);
        if compacted {
            ForkTemplate::capture_compacted(&engine.image, memory)
        } else {
            ForkTemplate::capture(&engine.image, memory)
        }
    }

    /// An instance of the generic snapshot (optionally made equal to a
    /// template), reseeded. Runs under a fixed budget: this is our work, not
    /// the script's.
    async fn instantiate(
        mode: CallMode,
        engine: &GuestEngine,
        spec: &SandboxSpec,
        template: Option<&ForkTemplate>,
    ) -> Result<Sandbox, Error> {
        let mut store = Store::new(
            &engine.engine,
            HostState::new(spec.services.clone(), spec.limits.max_heap_bytes),
        );
        store.limiter(|state| &mut state.limiter);
        if mode == CallMode::Async && engine.config.fuel_metering && !engine.config.epoch_deadlines
        {
            // Without epoch ticks, fuel is what makes a long call yield.
            // Only fails when fuel metering is off, checked above.
            let _ = store.fuel_async_yield_interval(Some(wasm_fuel(FUEL_YIELD_INTERVAL)));
        }
        let init_limits = spec.limits.clone().fuel_per_call(INIT_FUEL);
        let started = budget::arm(mode, &mut store, &engine.config, &init_limits);
        let fail = |e| classify(e, spec, LOAD, started);

        let instance = enter(mode.instantiate(engine.instance_pre(mode), &mut store))
            .await
            .map_err(fail)?;
        let guest = enter(GuestExports::new(mode, &mut store, &instance))
            .await
            .map_err(fail)?;
        store.data_mut().memory = Some(guest.memory);
        let template_pages = match template {
            Some(template) => {
                let by = PagesBy::for_config(&engine.config);
                let pages = template.apply(guest.memory, &mut store, by, &engine.image);
                Some(pages.map_err(fail)?)
            }
            None => None,
        };
        let (status, out) = enter(guest.reseed(mode, &mut store)).await.map_err(fail)?;
        if status != Status::Ok {
            return Err(load_error(spec, status, out));
        }
        Ok(Sandbox {
            store,
            guest,
            mode,
            scratch: Vec::new(),
            last_fuel_used: 0,
            _template_pages: template_pages,
        })
    }

    /// Calls `plugin:method(args...)` and returns its first result; its
    /// deadline counts from `started`, when the caller began timing it.
    ///
    /// An error for which [`Error::is_trap`] holds leaves this sandbox
    /// unusable: the caller must drop it. So must the caller of an async
    /// call whose future was dropped before it completed: the Lua state is
    /// then left mid-call.
    pub(crate) async fn call(
        &mut self,
        engine: &GuestEngine,
        spec: &SandboxSpec,
        method: &str,
        args: &[Arg<'_>],
        started: Instant,
    ) -> Result<Output, Error> {
        self.encode(spec, method, args)?;
        let config = &engine.config;
        budget::arm_at(self.mode, &mut self.store, config, &spec.limits, started);
        // Outputs over the limit stay in the guest: the host never copies more.
        let limit = spec.limits.max_payload_bytes;
        let entry = self.guest.call(
            self.mode,
            &mut self.store,
            &self.scratch,
            method.len(),
            limit,
        );
        let result = enter(entry).await;
        self.last_fuel_used = budget::fuel_used(&self.store, &engine.config, &spec.limits);
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
    fn encode(&mut self, spec: &SandboxSpec, method: &str, args: &[Arg<'_>]) -> Result<(), Error> {
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
    pub(crate) async fn describe(
        &mut self,
        engine: &GuestEngine,
        spec: &SandboxSpec,
    ) -> Result<ScriptExports, Error> {
        let started = budget::arm(self.mode, &mut self.store, &engine.config, &spec.limits);
        let (status, out) = enter(self.guest.describe(self.mode, &mut self.store))
            .await
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

/// Reads `bext_describe`'s summary: the priority (empty or a decimal
/// integer), then one Lua identifier per line. Anything else is refused: a
/// method name is never a line the script could shape.
fn parse_summary(summary: &[u8]) -> Result<ScriptExports, String> {
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
    let mut methods = BTreeSet::new();
    for name in lines {
        if !is_lua_identifier(name) {
            return Err(format!("method name {name:?} is not a Lua identifier"));
        }
        methods.insert(name.to_string());
    }
    Ok(ScriptExports { priority, methods })
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
        assert_eq!(parse_summary(b"").unwrap(), ScriptExports::default());
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
