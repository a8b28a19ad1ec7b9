//! The async call path: plugin calls that never hold an executor thread.
//!
//! # How async and sync calls coexist
//!
//! wasmtime 48 decides per call whether wasm runs on a fiber (`call_async`):
//! one engine, one compiled guest and one set of fork templates serve both
//! APIs. What differs is the store's deadline handling, so each plugin keeps
//! **two pools of sandboxes, one per mode**:
//!
//! * the synchronous pool (`LuaPluginPool`), unchanged: a call arms an epoch
//!   deadline that traps;
//! * the async pool here, filled on first use (a plugin only called
//!   synchronously never builds one): a call runs on a fiber and its epoch
//!   deadline *yields* to the executor at every tick
//!   ([`UpdateDeadline::Yield`](wasmtime::UpdateDeadline)) until the call's
//!   wall-clock deadline has passed, then traps with the same
//!   `Trap::Interrupt` as a synchronous call. Fuel and memory limits are
//!   armed exactly as for synchronous calls, so every limit stops an async
//!   call with the same typed [`Error`].
//!
//! # Fair share
//!
//! A per-plugin FIFO semaphore of
//! [`PoolConfig::max_concurrent_calls`](crate::PoolConfig::max_concurrent_calls)
//! permits is taken before a sandbox: calls beyond it wait without blocking
//! a thread, up to the pool's `acquire_timeout_ms`, then fail with
//! [`Error::ConcurrencyLimit`]. The async pool holds at most that many
//! sandboxes, so a call holding a permit always finds or builds one.
//!
//! # Cancellation
//!
//! Dropping a call's future (a client that went away, a
//! `tokio::time::timeout`) stops the guest at its next yield point, that is
//! within an epoch tick. The Lua state is then mid-call, so the sandbox is
//! discarded ([`PoolStats::discarded_after_cancel`](crate::PoolStats::discarded_after_cancel));
//! its pool slot and its permit are given back by drop guards, so nothing
//! leaks whatever await point the future was dropped at.

use crate::error::Error;
use crate::guest::abi::{Arg, Output};
use crate::guest::call_mode::CallMode;
use crate::plugin::LuaPlugin;
use crate::plugin::core::PluginCore;
use crate::plugin::pool::{Checkout, Release};
use crate::plugin::trace;
use crate::sandbox::Sandbox;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tokio::sync::SemaphorePermit;
use tracing::Instrument;

/// A sandbox taken from the async pool for one call; given back when
/// dropped, whether the call finished or its future was dropped midway.
struct AsyncCall<'a> {
    inner: &'a PluginCore,
    sandbox: Option<Sandbox>,
    /// How the sandbox goes back: `Cancelled` until the call returned.
    release: Release,
}

impl Drop for AsyncCall<'_> {
    fn drop(&mut self) {
        let Some(sandbox) = self.sandbox.take() else {
            return;
        };
        if self.release == Release::Cancelled {
            self.inner.stats.cancelled.fetch_add(1, Ordering::Relaxed);
        }
        self.inner.async_calls.pool.release(sandbox, self.release);
    }
}

impl LuaPlugin {
    /// [`LuaPlugin::call`] through the async API: waits for a permit of the
    /// plugin's fair share, runs the guest yielding every epoch tick.
    pub(crate) async fn call_async(
        &self,
        source: Option<&str>,
        method: &str,
        args: &[Arg<'_>],
    ) -> Result<Output, Error> {
        let span = trace::call_span(self.name(), method);
        let result = async {
            let admission = self.admit(method, source)?;
            // A refusal by the gate says nothing about the plugin's code: it
            // is not recorded by the quarantine. The permit is dropped last,
            // after the sandbox is back in the pool.
            let _permit = self.enter_gate(method).await?;
            let result = self.call_in_async_sandbox(method, args).await;
            self.inner.quarantine.record(admission, &result);
            result
        }
        .instrument(span.clone())
        .await;
        trace::record_outcome(&span, &result);
        result
    }

    async fn call_in_async_sandbox(&self, method: &str, args: &[Arg<'_>]) -> Result<Output, Error> {
        let inner = &*self.inner;
        let mut call = AsyncCall {
            inner,
            sandbox: None,
            release: Release::Cancelled,
        };
        let sandbox = call.sandbox.insert(self.async_sandbox(method).await?);
        inner.stats.calls.fetch_add(1, Ordering::Relaxed);
        let result = sandbox
            .call(&inner.engine, &inner.spec, method, args, Instant::now())
            .await;
        trace::record_fuel(sandbox.last_fuel_used);
        call.release = if inner.stats.record_outcome(sandbox.last_fuel_used, &result) {
            Release::Trapped
        } else {
            Release::Healthy
        };
        result
    }

    /// A permit of the plugin's fair share, waiting in FIFO order up to the
    /// pool's `acquire_timeout_ms`.
    async fn enter_gate(&self, method: &str) -> Result<SemaphorePermit<'_>, Error> {
        let calls = &self.inner.async_calls;
        if let Ok(permit) = calls.gate.try_acquire() {
            return Ok(permit);
        }
        let started = Instant::now();
        // The timer is tokio's: outside a tokio runtime the call cannot wait.
        if tokio::runtime::Handle::try_current().is_ok() {
            let timeout = Duration::from_millis(calls.pool.config().acquire_timeout_ms);
            if let Ok(Ok(permit)) = tokio::time::timeout(timeout, calls.gate.acquire()).await {
                return Ok(permit);
            }
        }
        calls.pool.count_acquire_timeout();
        Err(Error::ConcurrencyLimit {
            plugin: self.name().into(),
            method: method.into(),
            waited_ms: started.elapsed().as_millis() as u64,
            max_concurrent_calls: calls.pool.config().max_size,
        })
    }

    /// An idle async sandbox, or a new one (forked or loaded, yielding like
    /// any async call). The caller holds a permit, so a slot is free.
    async fn async_sandbox(&self, method: &str) -> Result<Sandbox, Error> {
        let inner = &*self.inner;
        let reservation = match inner.async_calls.pool.checkout() {
            Checkout::Idle(sandbox) => return Ok(sandbox),
            Checkout::Build(reservation) => reservation,
            // Unreachable: the gate admits no more calls than the pool's
            // max_size; reported rather than trusted.
            Checkout::Full => {
                return Err(Error::ConcurrencyLimit {
                    plugin: self.name().into(),
                    method: method.into(),
                    waited_ms: 0,
                    max_concurrent_calls: inner.async_calls.pool.config().max_size,
                });
            }
        };
        trace::record_new_sandbox(inner.template.is_some());
        match inner.new_sandbox(CallMode::Async).await {
            Ok(sandbox) => {
                reservation.built();
                Ok(sandbox)
            }
            Err(e) => {
                inner.stats.record_error(&e);
                Err(e)
            }
        }
    }
}
