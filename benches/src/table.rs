//! What the report is made of: its sections ([`Group`]), and one measure on
//! both sides ([`Row`]) in its [`Unit`]. The measures fill rows; the report
//! ([`crate::report`]) orders and prints them.

use crate::format::{format_bytes, format_seconds};
use crate::measure::Summary;

/// A section of the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    /// From nothing to the first `on_request` returned.
    ColdStart,
    /// One middleware call.
    PerCall,
    /// CPU-bound Lua programs.
    Cpu,
    /// The cost of each budget mechanism.
    Metering,
    /// `pcall(error, ...)`.
    ErrorPath,
    /// PSS per live instance.
    Memory,
    /// Calls across threads.
    Scaling,
    /// `bext.shared` against per-sandbox state.
    SharedState,
    /// `bext-lua run` against the system's `lua5.4`, as processes.
    Run,
    /// The attack suite on both sides, and the noisy-neighbour load
    /// ([`crate::isolation`]).
    Isolation,
}

impl Group {
    /// Every group, in report order.
    pub const ALL: [Group; 10] = [
        Group::ColdStart,
        Group::PerCall,
        Group::Cpu,
        Group::Metering,
        Group::ErrorPath,
        Group::Memory,
        Group::Scaling,
        Group::SharedState,
        Group::Run,
        Group::Isolation,
    ];

    /// The section title.
    pub fn title(self) -> &'static str {
        match self {
            Group::ColdStart => {
                "Cold start (rate limiter, 40 lines): from nothing to the first on_request returned"
            }
            Group::PerCall => "Per call: middleware with a 300 B and a 2 KB request context",
            Group::Cpu => "CPU-bound Lua programs (one run each)",
            Group::Metering => "Metering overhead (fib)",
            Group::ErrorPath => "Error path",
            Group::Memory => "Memory: PSS per live instance (plugin memory included)",
            Group::Scaling => "Scaling: wall time per on_request across threads (2 cores)",
            Group::SharedState => {
                "Shared state: bext.shared (host dictionary, Redis) against state in one Lua state"
            }
            Group::Run => {
                "bext-lua run against the system's lua5.4: whole processes, start-up included"
            }
            Group::Isolation => "Isolation: attacks contained, time to stop, harm to neighbours",
        }
    }

    /// The command-line name (`--only`).
    pub fn key(self) -> &'static str {
        match self {
            Group::ColdStart => "cold-start",
            Group::PerCall => "per-call",
            Group::Cpu => "cpu",
            Group::Metering => "metering",
            Group::ErrorPath => "errors",
            Group::Memory => "memory",
            Group::Scaling => "scaling",
            Group::SharedState => "shared-state",
            Group::Run => "run",
            Group::Isolation => "isolation",
        }
    }
}

/// What a row's figures are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Seconds per operation.
    Seconds,
    /// Bytes.
    Bytes,
}

/// One measure, both sides.
#[derive(Debug, Clone)]
pub struct Row {
    /// Section.
    pub group: Group,
    /// What was measured.
    pub name: String,
    /// Unit of the figures.
    pub unit: Unit,
    /// The wasm side.
    pub wasm: Summary,
    /// The native side.
    pub native: Summary,
    /// Median of the per-round ratios wasm/native.
    pub ratio: f64,
    /// Recorded rounds.
    pub rounds: usize,
}

impl Row {
    /// The median of a side in the row's unit, for display.
    pub(crate) fn show(&self, value: f64) -> String {
        match self.unit {
            Unit::Seconds => format_seconds(value),
            Unit::Bytes => format_bytes(value),
        }
    }
}
