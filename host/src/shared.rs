//! `bext.shared`: one dictionary per plugin, kept by the host and shared by
//! every sandbox of the plugin, modelled on OpenResty's `lua_shared_dict`.
//!
//! A plugin's Lua globals live in one sandbox, and a plugin runs in as many
//! sandboxes as its pool holds; state that must be exact across them (a rate
//! limiter's counters) lives here instead. The dictionary is looked up by
//! plugin name in the runtime's registry, so it survives sandbox rebuilds
//! after traps and hot reloads of the same name, and
//! [`LuaPluginRuntime::unload_plugin`](crate::LuaPluginRuntime::unload_plugin)
//! drops it.
//!
//! Each dictionary has its own lock, held only for the one operation, so a
//! plugin that hammers its dictionary never waits on another plugin's.
//! The script API and its return values are in the README ("Shared state");
//! the guest boundary decodes the guest's requests into a
//! [`SharedOp`](op::SharedOp) (`guest/shared_call.rs`), which runs on a
//! [`SharedStore`](op::SharedStore): the in-process
//! [`LocalDict`](local::LocalDict), or Redis with the `redis` feature.

use crate::FUEL_PER_KILO_INSTRUCTIONS;

pub(crate) mod local;
pub(crate) mod op;
#[cfg(feature = "redis")]
pub(crate) mod redis;

/// Bookkeeping bytes counted for every entry on top of its key and value,
/// so that a flood of empty keys is bounded like a few large ones.
pub const SHARED_ENTRY_OVERHEAD_BYTES: usize = 64;

/// Longest key, in bytes (as OpenResty's).
pub const SHARED_MAX_KEY_BYTES: usize = 65_535;

/// `keys()` without a limit returns at most this many keys (as OpenResty's).
pub(crate) const DEFAULT_KEYS_LIMIT: usize = 1024;

/// Fuel every `bext.shared` call costs: what 25 Lua VM instructions cost
/// (see [`FUEL_PER_KILO_INSTRUCTIONS`]).
pub const SHARED_CALL_FUEL: u64 = 25 * FUEL_PER_KILO_INSTRUCTIONS / 1000;

/// Extra fuel per entry an operation visits beyond its key (`keys`,
/// `flush_expired`, `flush_all`): what one Lua VM instruction costs.
pub const SHARED_ENTRY_FUEL: u64 = FUEL_PER_KILO_INSTRUCTIONS / 1000;

/// Fuel for a call that moved `bytes` (request and reply) and visited
/// `entries` entries: [`SHARED_CALL_FUEL`] + 1 per byte + [`SHARED_ENTRY_FUEL`] per entry.
pub(crate) fn fuel_cost(bytes: usize, entries: usize) -> u64 {
    SHARED_CALL_FUEL + bytes as u64 + SHARED_ENTRY_FUEL * entries as u64
}
