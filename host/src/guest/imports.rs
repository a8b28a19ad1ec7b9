//! What the guest may call: WASI preview 1 with nothing granted, and the
//! `bext.*` functions behind the script's `bext` table.
//!
//! | import | from the script | here |
//! |---|---|---|
//! | `bext.log(level, ptr, len)` | `bext.log`, `print`, Lua warnings | a `tracing` event with the plugin's name |
//! | `bext.metric(name, len, value, tags, len) -> i32` | `bext.emit_metric` | the runtime's [`MetricsSink`](crate::MetricsSink); 1 = malformed tags |
//! | `bext.event(kind, a, len, b, len)` | `bext.cache_event` (1), `bext.lifecycle_event` (2) | a structured `tracing` event |
//! | `wasi_snapshot_preview1.poll_oneoff` | nothing (Lua never sleeps) | `ENOSYS`: it would block the host thread past any deadline |
//! | `bext.shared(op, req, len, out, cap) -> i32` | `bext.shared:get/set/...` | the plugin's [`SharedStore`](crate::shared::op::SharedStore): n >= 0 is a reply of n bytes, n < 0 an error message of -n-1 bytes to raise; at `out` if it fits in `cap`, else fetched with `shared_take` |
//! | `bext.shared_take(ptr, len)` | a reply larger than the shim's buffer | copies the pending reply |
//! | `bext.heap_exhausted(requested)` | the guest allocator, after Lua's emergency GC | a trap classified as [`Error::MemoryLimit`](crate::Error::MemoryLimit) |
//!
//! Guest pointers are read through [`guest_bytes`], so garbage arguments
//! make the call fail with an ABI error instead of reading out of bounds.
//!
//! Every `bext.*` import runs inside [`contained`]: a panic in it (the
//! embedder's [`MetricsSink`](crate::MetricsSink) or tracing subscriber, steered by a metric name
//! or log line the script chose) stops the guest call as a trap classified
//! as [`Error::HostPanic`](crate::Error::HostPanic) naming the import, and
//! the sandbox is discarded: its Lua state was left in the middle of a call.

use crate::guest::abi::{event_kind, guest_bytes, guest_bytes_mut, log_level};
use crate::guest::call_mode::CallMode;
use crate::guest::shared_call::shared_call;
use crate::guest::state::HostState;
use crate::guest::traps::{AbiViolation, HeapExhausted, HostFunctionPanicked};
use std::panic::{AssertUnwindSafe, catch_unwind};
use wasmtime::{Caller, Linker};

/// Runs the body of host function `import`, turning a panic into a trap
/// ([`HostFunctionPanicked`]) so it never unwinds through guest frames nor
/// leaves the sandbox looking healthy.
fn contained<T>(
    import: &'static str,
    body: impl FnOnce() -> wasmtime::Result<T>,
) -> wasmtime::Result<T> {
    // AssertUnwindSafe: on a panic the sandbox (and everything the body
    // touched in it) is discarded, so no broken invariant is observed.
    catch_unwind(AssertUnwindSafe(body))
        .unwrap_or_else(|payload| Err(HostFunctionPanicked::new(import, &*payload).into()))
}

/// `bext.log` at the shim's level (an unknown level logs at debug).
fn log(plugin: &str, level: i32, msg: &str) {
    match level {
        log_level::ERROR => tracing::error!(target: "bext_lua", plugin, "{msg}"),
        log_level::WARN => tracing::warn!(target: "bext_lua", plugin, "{msg}"),
        log_level::INFO => tracing::info!(target: "bext_lua", plugin, "{msg}"),
        _ => tracing::debug!(target: "bext_lua", plugin, "{msg}"),
    }
}

/// Guest bytes as text; invalid UTF-8 is replaced, never trusted.
fn guest_text(caller: &Caller<'_, HostState>, ptr: u32, len: u32) -> wasmtime::Result<String> {
    let memory = caller
        .data()
        .memory
        .ok_or_else(|| AbiViolation("host call before instantiation".into()))?;
    let bytes = guest_bytes(memory.data(caller), ptr, len)?;
    Ok(String::from_utf8_lossy(bytes).into_owned())
}

/// Parses `bext.emit_metric`'s tags: a JSON object; string values as they are,
/// other values in their JSON form. `None` when malformed.
fn parse_tags(json: &str) -> Option<Vec<(String, String)>> {
    let map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(json).ok()?;
    Some(
        map.into_iter()
            .map(|(k, v)| match v {
                serde_json::Value::String(s) => (k, s),
                other => (k, other.to_string()),
            })
            .collect(),
    )
}

/// WASI preview 1 `errno::nosys`.
const ERRNO_NOSYS: i32 = 52;

/// A linker with WASI preview 1 and the `bext` imports.
///
/// wasmtime-wasi's synchronous preview-1 file functions (`fd_write`,
/// `fd_read`, `path_open`, ...) block on tokio, which panics on a tokio
/// worker thread: async sandboxes, entered from an executor, link the
/// async versions instead, so a compromised guest gets the same errno on
/// both paths rather than a panic.
pub(crate) fn linker(
    engine: &wasmtime::Engine,
    mode: CallMode,
) -> wasmtime::Result<Linker<HostState>> {
    let mut linker = Linker::new(engine);
    match mode {
        CallMode::Sync => {
            wasmtime_wasi::p1::add_to_linker_sync(&mut linker, |state: &mut HostState| {
                &mut state.wasi
            })?
        }
        CallMode::Async => {
            wasmtime_wasi::p1::add_to_linker_async(&mut linker, |state: &mut HostState| {
                &mut state.wasi
            })?
        }
    }
    // `poll_oneoff` with a clock subscription sleeps the calling host thread
    // for as long as the guest asks, out of reach of the epoch deadline. Lua
    // never calls it (the guest does not import it); a compromised guest
    // gets ENOSYS instead of a way to park a server worker.
    linker.allow_shadowing(true);
    linker.func_wrap(
        "wasi_snapshot_preview1",
        "poll_oneoff",
        |_caller: Caller<'_, HostState>, _in: i32, _out: i32, _n: i32, _nevents: i32| -> i32 {
            ERRNO_NOSYS
        },
    )?;
    linker.allow_shadowing(false);
    linker.func_wrap(
        "bext",
        "log",
        |caller: Caller<'_, HostState>, level: i32, ptr: u32, len: u32| {
            contained("bext.log", || {
                let msg = guest_text(&caller, ptr, len)?;
                log(&caller.data().plugin.name, level, &msg);
                Ok(())
            })
        },
    )?;
    linker.func_wrap(
        "bext",
        "metric",
        |caller: Caller<'_, HostState>,
         name: u32,
         name_len: u32,
         value: f64,
         tags: u32,
         tags_len: u32| {
            contained("bext.metric", || {
                let metric = guest_text(&caller, name, name_len)?;
                let tags = if tags_len == 0 {
                    Vec::new()
                } else {
                    match parse_tags(&guest_text(&caller, tags, tags_len)?) {
                        Some(tags) => tags,
                        None => return Ok(1),
                    }
                };
                let plugin = &caller.data().plugin;
                plugin.metrics.emit(&plugin.name, &metric, value, &tags);
                Ok(0i32)
            })
        },
    )?;
    linker.func_wrap(
        "bext",
        "event",
        |caller: Caller<'_, HostState>, kind: i32, a: u32, a_len: u32, b: u32, b_len: u32| {
            contained("bext.event", || {
                let (a, b) = (guest_text(&caller, a, a_len)?, guest_text(&caller, b, b_len)?);
                let plugin = caller.data().plugin.name.as_str();
                match kind {
                    event_kind::CACHE => tracing::info!(target: "bext_lua::cache", plugin, kind = %a, key = %b, "cache event"),
                    event_kind::LIFECYCLE => tracing::info!(target: "bext_lua::lifecycle", plugin, event = %a, data = %b, "lifecycle event"),
                    other => return Err(AbiViolation(format!("unknown event kind {other}")).into()),
                }
                Ok(())
            })
        },
    )?;
    linker.func_wrap(
        "bext",
        "shared",
        |caller: Caller<'_, HostState>,
         code: i32,
         req: u32,
         req_len: u32,
         out: u32,
         out_cap: u32| {
            contained("bext.shared", || {
                shared_call(caller, code, req, req_len, out, out_cap)
            })
        },
    )?;
    linker.func_wrap(
        "bext",
        "shared_take",
        |mut caller: Caller<'_, HostState>, ptr: u32, len: u32| {
            contained("bext.shared_take", || {
                let memory = caller
                    .data()
                    .memory
                    .ok_or_else(|| AbiViolation("host call before instantiation".into()))?;
                let pending = std::mem::take(&mut caller.data_mut().shared_pending);
                if pending.len() != len as usize {
                    return Err(AbiViolation(format!(
                        "shared_take of {len} bytes, {} pending",
                        pending.len()
                    ))
                    .into());
                }
                guest_bytes_mut(memory.data_mut(&mut caller), ptr, len)?.copy_from_slice(&pending);
                Ok(())
            })
        },
    )?;
    linker.func_wrap(
        "bext",
        "heap_exhausted",
        |_caller: Caller<'_, HostState>, requested: u32| -> wasmtime::Result<()> {
            Err(HeapExhausted { requested }.into())
        },
    )?;
    Ok(linker)
}
