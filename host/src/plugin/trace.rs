//! The `tracing` span of one plugin call, so an embedder's subscriber (an
//! OpenTelemetry layer, say) shows each call inside its request's span:
//! `lua_plugin_call` at `INFO` on target `bext_lua`, with
//!
//! | field | value |
//! |---|---|
//! | `plugin`, `method` | the plugin's name, the script method |
//! | `sandbox` | `reused` (an idle sandbox), `forked` or `loaded` (one made for this call) |
//! | `fuel` | fuel the call consumed (absent when unknown: no metering, or a timeout) |
//! | `outcome` | `ok`, or the error's [`kind`](crate::Error::kind) |
//!
//! When no subscriber enables the span, creating and recording it costs a
//! cached interest check per call site (measured on the report's per-call
//! rows; see benches/RESULTS.md).

use crate::error::Error;
use tracing::Span;
use tracing::field::Empty;

/// A new span for a call of `method` of `plugin`; enter it (or instrument
/// the call's future with it) around the whole call.
pub(crate) fn call_span(plugin: &str, method: &str) -> Span {
    tracing::info_span!(
        target: "bext_lua",
        "lua_plugin_call",
        plugin,
        method,
        sandbox = "reused",
        fuel = Empty,
        outcome = Empty,
    )
}

/// Records how the call's sandbox was made, on the current call span.
pub(crate) fn record_new_sandbox(forked: bool) {
    Span::current().record("sandbox", if forked { "forked" } else { "loaded" });
}

/// Records the call's fuel, on the current call span.
pub(crate) fn record_fuel(fuel: u64) {
    if fuel > 0 {
        Span::current().record("fuel", fuel);
    }
}

/// Records the call's outcome on `span`.
pub(crate) fn record_outcome<T>(span: &Span, result: &Result<T, Error>) {
    if !span.is_disabled() {
        span.record(
            "outcome",
            result.as_ref().map_or_else(Error::kind, |_| "ok"),
        );
    }
}
