//! How a store enters the guest, written once for both APIs.
//!
//! wasmtime 48 decides per call whether wasm runs on the calling thread
//! (`TypedFunc::call`) or on a fiber that can suspend (`call_async`). Every
//! path into the guest (instantiation, the ABI's entries, a sandbox's load
//! and call, the capability adapters) is one `async` body that takes a
//! [`CallMode`] and branches only where wasmtime does. The async API awaits
//! that body; the sync API drives it with [`run_sync`], which completes it
//! in one poll because a [`CallMode::Sync`] body never awaits anything that
//! waits (the shape of wasmtime's own sync entry points over async bodies).

use crate::guest::traps::HostFunctionPanicked;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use wasmtime::{AsContextMut, Instance, InstancePre, TypedFunc, WasmParams, WasmResults};

/// How a store's guest calls run. A store keeps one mode for its life: its
/// deadline handling is set up for it (see `sandbox/budget.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CallMode {
    /// `TypedFunc::call` on the calling thread: the synchronous API, and the
    /// runtime's own instances (snapshot, image).
    Sync,
    /// `call_async` on a fiber that yields to the executor at every epoch
    /// tick: the async API.
    Async,
}

impl CallMode {
    /// Calls `func` with `params` in this mode.
    pub(crate) async fn call<P, R>(
        self,
        func: &TypedFunc<P, R>,
        store: impl AsContextMut<Data: Send>,
        params: P,
    ) -> wasmtime::Result<R>
    where
        P: WasmParams + Sync,
        R: WasmResults + Sync,
    {
        match self {
            CallMode::Sync => func.call(store, params),
            CallMode::Async => func.call_async(store, params).await,
        }
    }

    /// Instantiates `pre` in `store` in this mode.
    pub(crate) async fn instantiate<T: Send + 'static>(
        self,
        pre: &InstancePre<T>,
        store: impl AsContextMut<Data = T>,
    ) -> wasmtime::Result<Instance> {
        match self {
            CallMode::Sync => pre.instantiate(store),
            CallMode::Async => pre.instantiate_async(store).await,
        }
    }
}

/// Completes a body whose guest entries all run in [`CallMode::Sync`] (or
/// another future that never waits, such as wizer's snapshot of in-memory
/// state): such a future is ready at its first poll.
pub(crate) fn run_sync<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => output,
        // Unreachable by construction: a sync-mode body calls only
        // `TypedFunc::call` and `InstancePre::instantiate`, which never
        // suspend, and awaits nothing else that waits (wasmtime's own
        // `assert_ready` rests on the same invariant).
        Poll::Pending => unreachable!("a synchronous guest entry suspended"),
    }
}

/// Runs one guest entry (in either mode) so that a host panic raised while
/// the guest runs becomes a trap ([`HostFunctionPanicked`]) instead of
/// unwinding the caller, and the sandbox is discarded. The `bext.*` imports
/// contain their own panics, so what reaches an entry came from a WASI
/// function. In async mode wasmtime resumes such a panic in `poll`, which
/// is where it is caught.
pub(crate) async fn enter<T>(
    entry: impl Future<Output = wasmtime::Result<T>>,
) -> wasmtime::Result<T> {
    let mut entry = pin!(entry);
    std::future::poll_fn(|cx| {
        // AssertUnwindSafe: after a panic the sandbox is discarded, never reused.
        catch_unwind(AssertUnwindSafe(|| entry.as_mut().poll(cx))).unwrap_or_else(|payload| {
            let panicked = HostFunctionPanicked::new("wasi_snapshot_preview1", &*payload);
            Poll::Ready(Err(panicked.into()))
        })
    })
    .await
}
