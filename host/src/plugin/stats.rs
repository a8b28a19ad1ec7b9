//! A plugin's counters: kept by the call paths ([`Counters`]), read by the
//! embedder's monitoring ([`PluginStats`]).

use crate::error::Error;
use crate::plugin::latency::{LatencyHistogram, LatencyRecorder};
use serde::Serialize;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) calls: AtomicU64,
    pub(crate) errors: AtomicU64,
    pub(crate) traps: AtomicU64,
    pub(crate) timeouts: AtomicU64,
    pub(crate) fuel_consumed: AtomicU64,
    pub(crate) quarantined: AtomicU64,
    pub(crate) cancelled: AtomicU64,
    pub(crate) latency: LatencyRecorder,
}

/// Counters of one plugin, for the embedding server's monitoring
/// (serializable, e.g. to JSON for a metrics endpoint).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct PluginStats {
    /// Calls made (successful or not).
    pub calls: u64,
    /// Calls that returned an error of any kind.
    pub errors: u64,
    /// Calls that trapped (fuel, deadline, memory, stack, other traps): each
    /// discarded the instance.
    pub traps: u64,
    /// Sandboxes created, at load included.
    pub instances_created: u64,
    /// Calls stopped at their deadline ([`Error::Timeout`]; also counted in
    /// `traps`).
    pub timeouts: u64,
    /// Fuel consumed by all calls (0 when the runtime does not meter fuel),
    /// whether the plugin's fuel is limited or not. Calls stopped at their
    /// deadline (`timeouts`) add nothing: wasmtime does not record the fuel
    /// of an interrupted call.
    pub fuel_consumed: u64,
    /// Calls refused with [`Error::Quarantined`] (also counted in `calls`
    /// and `errors`); they entered no sandbox.
    pub quarantined: u64,
    /// Quarantines entered since the plugin was loaded, of the plugin and of
    /// its clients.
    pub quarantines: u64,
    /// Failed calls (traps, and pool timeouts behind traps) among the recent
    /// calls the quarantine rule counts over
    /// ([`LuaSandboxLimits::quarantine_window_calls`](crate::LuaSandboxLimits::quarantine_window_calls)).
    pub recent_traps: u32,
    /// `Some(ms until the next probe call)` while the plugin, or a client
    /// of it, is quarantined (the longest wait).
    pub quarantined_for_ms: Option<u64>,
    /// How long calls took inside their sandbox.
    pub latency: LatencyHistogram,
    /// Async calls cancelled (their future dropped) while the guest ran;
    /// each discarded its sandbox. Also counted in `calls`.
    pub cancelled: u64,
}

impl Counters {
    /// Counts a finished call's fuel (`fuel_used`) and error; true when it
    /// trapped (the sandbox must be discarded).
    pub(crate) fn record_outcome<T>(&self, fuel_used: u64, result: &Result<T, Error>) -> bool {
        self.fuel_consumed.fetch_add(fuel_used, Ordering::Relaxed);
        match result {
            Err(e) => {
                self.record_error(e);
                e.is_trap()
            }
            Ok(_) => false,
        }
    }

    /// Counts a failed call (or sandbox build) by its kind.
    pub(crate) fn record_error(&self, error: &Error) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        if error.is_trap() {
            self.traps.fetch_add(1, Ordering::Relaxed);
        }
        if matches!(error, Error::Timeout { .. }) {
            self.timeouts.fetch_add(1, Ordering::Relaxed);
        }
    }
}
