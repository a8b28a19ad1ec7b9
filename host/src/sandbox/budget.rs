//! A call's budgets armed in its store before every guest entry: fuel reset
//! (not topped up), the epoch deadline, and the wall-clock deadline host
//! calls stop at.

use crate::config::limits::{LuaSandboxLimits, fuel_from_wasm, wasm_fuel};
use crate::config::runtime::LuaRuntimeConfig;
use crate::guest::call_mode::CallMode;
use crate::guest::state::HostState;
use std::time::{Duration, Instant};
use wasmtime::{Store, UpdateDeadline};

/// Epoch ticks that cover `timeout_ms` at one tick per `epoch_tick_ms`: one
/// more than the quotient, because the current tick is already partly over.
/// Capped far below `u64::MAX`: wasmtime adds it to the current epoch
/// (`timeout_ms: u64::MAX` means "no deadline" in practice, not a panic).
fn deadline_ticks(timeout_ms: u64, epoch_tick_ms: u64) -> u64 {
    (timeout_ms / epoch_tick_ms.max(1))
        .saturating_add(1)
        .min(u64::MAX >> 2)
}

/// Resets the budgets (reset, not topped up) for an entry starting now
/// ([`arm_at`]) and returns that time.
pub(crate) fn arm(
    mode: CallMode,
    store: &mut Store<HostState>,
    config: &LuaRuntimeConfig,
    limits: &LuaSandboxLimits,
) -> Instant {
    let started = Instant::now();
    arm_at(mode, store, config, limits, started);
    started
}

/// Resets the budgets (reset, not topped up) for an entry that started at
/// `started` (the deadline counts from it).
///
/// In [`CallMode::Sync`] the epoch deadline traps (`Trap::Interrupt`) once
/// `timeout_ms` has passed. In [`CallMode::Async`] the deadline is checked
/// at every epoch tick, where the call yields to the executor
/// (`UpdateDeadline::Yield`) until the deadline has passed and then traps
/// with the same `Trap::Interrupt`; time spent suspended counts, the
/// deadline is wall-clock. Fuel is armed the same way in both modes.
pub(crate) fn arm_at(
    mode: CallMode,
    store: &mut Store<HostState>,
    config: &LuaRuntimeConfig,
    limits: &LuaSandboxLimits,
    started: Instant,
) {
    if config.fuel_metering {
        // Only fails when fuel metering is off, which was checked above.
        let _ = store.set_fuel(wasm_fuel(limits.fuel_budget()));
    }
    // `None` (a deadline past `Instant`'s range) never expires.
    let deadline = started.checked_add(Duration::from_millis(limits.timeout_ms));
    // Host calls that wait (bext.shared on Redis) stop at the same deadline.
    store.data_mut().call_deadline = deadline;
    if config.epoch_deadlines {
        match mode {
            CallMode::Sync => {
                store.set_epoch_deadline(deadline_ticks(limits.timeout_ms, config.epoch_tick_ms))
            }
            CallMode::Async => {
                store.set_epoch_deadline(1);
                store.epoch_deadline_callback(move |_| {
                    Ok(match deadline {
                        Some(deadline) if Instant::now() >= deadline => UpdateDeadline::Interrupt,
                        _ => UpdateDeadline::Yield(1),
                    })
                });
            }
        }
    }
}

/// Fuel consumed since [`arm`].
pub(crate) fn fuel_used(
    store: &Store<HostState>,
    config: &LuaRuntimeConfig,
    limits: &LuaSandboxLimits,
) -> u64 {
    match store.get_fuel() {
        Ok(left) if config.fuel_metering => fuel_from_wasm(wasm_fuel(limits.fuel_budget()) - left),
        _ => 0,
    }
}
