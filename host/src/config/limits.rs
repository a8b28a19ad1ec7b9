//! Per-plugin sandbox limits: the one place that defines budgets, their
//! units and defaults. How a call's budgets are armed in its store is
//! `sandbox/budget.rs`.

/// Fuel for 1000 Lua VM instructions: bext's unit (its mlua tier counts
/// 1000 instructions per hook tick) in this sandbox's fuel.
///
/// Fuel is wasmtime's fuel metering under this crate's price list
/// (`operator_costs` in `config/limits.rs`): one unit for every wasm
/// `block` entered, 1/128 of a unit for every other operator and for every
/// byte `memory.copy` or `memory.fill` moves. The interpreter dispatches
/// each Lua instruction through one `br_table` nested in dozens of blocks
/// (the `switch` of `luaV_execute`), so an instruction costs about the same
/// number of units whatever it does in the interpreter loop, while library
/// C code (`string.match`, `gsub`,
/// `rep`, `table.concat`, `sort`) enters few blocks for its work and pays
/// for that work in proportion, where a count hook counts each call as one
/// instruction. Measured against native Lua's count hook on the same
/// scripts (`tests/all/limits.rs`), with the guest as built with LTO:
/// pure bytecode and empty loops about 127 units per instruction,
/// plugin-like code (pattern matching on the request context, string
/// building, table updates) about 171. This constant sits between them, so
/// both get bext's budget within 0.8x-1.25x: a pure-bytecode loop about
/// 1.16x bext's instructions, plugin-like code about 0.87x. (The guest
/// built without LTO measured 116 and 150; a change of the guest's build
/// that moves these is caught by that test.)
pub const FUEL_PER_KILO_INSTRUCTIONS: u64 = 148_000;

/// Wasmtime fuel per unit of this crate's fuel: the price of entering a
/// wasm `block`, against 1 for any other operator. Wasmtime prices
/// operators in whole fuel (at most 255 each), so a unit is 128 of them.
pub(crate) const WASM_FUEL_PER_UNIT: u64 = 128;

/// The operator prices that make fuel track Lua instructions (see
/// [`FUEL_PER_KILO_INSTRUCTIONS`]): wasmtime's defaults (1 per operator, 1
/// per byte copied or filled, control markers free) with `block` at
/// [`WASM_FUEL_PER_UNIT`]. Every loop still pays at least its back edge on
/// each turn, so library code doing unbounded work runs out of fuel too.
pub(crate) fn operator_costs() -> wasmtime::OperatorCost {
    let mut costs = wasmtime::OperatorCost::new();
    costs.Block = WASM_FUEL_PER_UNIT as u8;
    costs
}

/// `fuel` in wasmtime's fuel (saturating: `u64::MAX` stays unlimited).
pub(crate) fn wasm_fuel(fuel: u64) -> u64 {
    fuel.saturating_mul(WASM_FUEL_PER_UNIT)
}

/// Wasmtime's fuel `wasm` in this crate's fuel, rounded up (any work
/// counts).
pub(crate) fn fuel_from_wasm(wasm: u64) -> u64 {
    wasm.div_ceil(WASM_FUEL_PER_UNIT)
}

/// bext's native (mlua) tier allows 200 hook ticks of 1000 VM instructions.
pub const BEXT_TICKS_PER_CALL: u64 = 200;

/// Limits applied to one plugin's sandbox.
///
/// Budgets are **reset, not topped up**, before every call (and before
/// loading the script): an expensive call cannot borrow from the next one.
/// Checked at load ([`Error::InvalidConfig`](crate::Error::InvalidConfig)):
/// `max_heap_bytes` from the guest's initial memory to 4 GiB, `timeout_ms`
/// at least 1, `max_payload_bytes` from 1 to `u32::MAX`, `quarantine_ms` at
/// least 1 while quarantine is on.
/// Exhausting any of them stops the call with a typed [`Error`](crate::Error)
/// that Lua's `pcall` cannot catch, and the instance is replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LuaSandboxLimits {
    /// Upper bound of the instance's linear memory in bytes: the Lua heap plus
    /// about 0.5 MiB of fixed guest memory (C stack, static data).
    /// Default: 64 MiB.
    pub max_heap_bytes: usize,
    /// Fuel per call, in the units of
    /// [`FUEL_PER_KILO_INSTRUCTIONS`](crate::FUEL_PER_KILO_INSTRUCTIONS).
    /// Default: bext's mlua budget, 200 ticks x 1000 Lua instructions, that
    /// is `200 * FUEL_PER_KILO_INSTRUCTIONS` = 29,600,000 (roughly 1.5 ms of
    /// CPU for a pure-bytecode loop, 5-10 ms for plugin-like code). `0`
    /// means unlimited for this plugin (the deadline still applies).
    pub fuel_per_call: u64,
    /// Wall-clock deadline per call in milliseconds, enforced by epoch
    /// interruption at the runtime's tick granularity. Default: 1000 ms.
    pub timeout_ms: u64,
    /// Largest payload accepted in either direction (arguments, returned
    /// strings and JSON) in bytes. Default: 16 MiB.
    pub max_payload_bytes: usize,
    /// Failed calls among the last
    /// [`quarantine_window_calls`](Self::quarantine_window_calls) after which
    /// calls are quarantined: they fail at once with
    /// [`Error::Quarantined`](crate::Error::Quarantined) for
    /// [`quarantine_ms`](Self::quarantine_ms), then one probe call is let
    /// through, whose outcome ends or restarts the quarantine. A failed call
    /// is a trap (fuel, deadline, memory, stack, other traps), or a
    /// [`PoolTimeout`](crate::Error::PoolTimeout) of a client whose own
    /// recent calls trapped. Calls that succeed do not reset the count; they
    /// age failures out of the window.
    ///
    /// The count is scoped to where traps come from, so a client cannot
    /// turn a trap it chooses (a ReDoS on a header) against a tenant: a
    /// client (`RequestContext::peer_ip` of `on_request` / `on_response`;
    /// calls without one share one source) reaching the threshold with its
    /// own calls is quarantined alone, and the plugin is quarantined for
    /// everyone only when its failures come from at least as many distinct
    /// clients (and at least two). The full rule is in SECURITY.md.
    /// `0` disables quarantine. Default: 5.
    pub quarantine_after_traps: u32,
    /// How many recent calls [`quarantine_after_traps`](Self::quarantine_after_traps)
    /// counts over (at least `quarantine_after_traps`). Default: 20.
    pub quarantine_window_calls: u32,
    /// Cool-down of a quarantine in milliseconds. Default: 5000 ms.
    pub quarantine_ms: u64,
    /// Bound of the plugin's `bext.shared` dictionary in bytes: keys plus
    /// values (8 per number, 1 per boolean) plus
    /// [`SHARED_ENTRY_OVERHEAD_BYTES`](crate::SHARED_ENTRY_OVERHEAD_BYTES)
    /// per entry. A write that needs room evicts expired entries first, then
    /// the least recently used (its `forcible` result is then true); an entry
    /// larger than the whole bound is refused (`false, "no memory"`). The
    /// dictionary lives on the host, outside `max_heap_bytes`. Applies to the
    /// in-process backend; Redis bounds its own memory. Default: 1 MiB.
    pub shared_dict_bytes: usize,
}

impl Default for LuaSandboxLimits {
    fn default() -> Self {
        LuaSandboxLimits {
            max_heap_bytes: 64 << 20,
            fuel_per_call: BEXT_TICKS_PER_CALL * FUEL_PER_KILO_INSTRUCTIONS,
            timeout_ms: 1000,
            max_payload_bytes: 16 << 20,
            quarantine_after_traps: 5,
            quarantine_window_calls: 20,
            quarantine_ms: 5000,
            shared_dict_bytes: 1 << 20,
        }
    }
}

impl LuaSandboxLimits {
    /// Sets [`max_heap_bytes`](Self::max_heap_bytes).
    pub fn max_heap_bytes(mut self, bytes: usize) -> Self {
        self.max_heap_bytes = bytes;
        self
    }

    /// Sets [`fuel_per_call`](Self::fuel_per_call).
    pub fn fuel_per_call(mut self, fuel: u64) -> Self {
        self.fuel_per_call = fuel;
        self
    }

    /// Sets [`timeout_ms`](Self::timeout_ms).
    pub fn timeout_ms(mut self, ms: u64) -> Self {
        self.timeout_ms = ms;
        self
    }

    /// Sets [`max_payload_bytes`](Self::max_payload_bytes).
    pub fn max_payload_bytes(mut self, bytes: usize) -> Self {
        self.max_payload_bytes = bytes;
        self
    }

    /// Sets [`quarantine_after_traps`](Self::quarantine_after_traps) (0
    /// disables quarantine).
    pub fn quarantine_after_traps(mut self, traps: u32) -> Self {
        self.quarantine_after_traps = traps;
        self
    }

    /// Sets [`quarantine_window_calls`](Self::quarantine_window_calls).
    pub fn quarantine_window_calls(mut self, calls: u32) -> Self {
        self.quarantine_window_calls = calls;
        self
    }

    /// Sets [`quarantine_ms`](Self::quarantine_ms).
    pub fn quarantine_ms(mut self, ms: u64) -> Self {
        self.quarantine_ms = ms;
        self
    }

    /// Sets [`shared_dict_bytes`](Self::shared_dict_bytes).
    pub fn shared_dict_bytes(mut self, bytes: usize) -> Self {
        self.shared_dict_bytes = bytes;
        self
    }
}

impl LuaSandboxLimits {
    /// The fuel a call starts with: [`fuel_per_call`](Self::fuel_per_call),
    /// where `0` means unlimited (`u64::MAX`).
    pub(crate) fn fuel_budget(&self) -> u64 {
        if self.fuel_per_call == 0 {
            u64::MAX
        } else {
            self.fuel_per_call
        }
    }
}
