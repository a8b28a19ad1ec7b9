//! The noisy-neighbour load of the isolation section, on both sides: the
//! load of `tests/all/noisy_neighbour.rs` (8 threads calling 18 well-behaved
//! rate limiters beside a plugin that loops forever and one that allocates
//! until it is stopped), timing every well-behaved call.

use crate::format::format_seconds;
use crate::tiers::{BenchError, BenchResult, NativeSide, PluginSpec, Side, WasmSetup, WasmSide};
use crate::workloads::{ContextSize, request_context};
use bext_plugin_api::middleware::RequestAction;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Calling threads.
pub const THREADS: usize = 8;
/// Well-behaved plugins.
pub const WELL_BEHAVED: usize = 18;

/// A per-IP rate limiter like the demo's: pattern matching, a table, an
/// extension out.
pub const LIMITER: &str = r#"local seen = {}
return {
  on_request = function(self, ctx)
    local ip = ctx:match('"peer_ip":"([^"]*)"') or "?"
    local path = ctx:match('"path":"([^"]*)"') or "/"
    seen[ip] = (seen[ip] or 0) + 1
    if path:find("^/admin") then
      return bext.middleware_respond('{"status":403,"body":"no"}')
    end
    return bext.middleware_continue('{"hits":"' .. seen[ip] .. '"}')
  end,
}"#;

/// Loops forever on every call.
pub const LOOPER: &str = "return { on_request = function(self, ctx) while true do end end }";

/// Allocates 64 KiB strings and keeps them, forever, on every call.
pub const HOARDER: &str = r#"return { on_request = function(self, ctx)
  local t = {}
  while true do t[#t + 1] = string.rep("m", 1 << 16) .. #t end
end }"#;

/// The 20 plugins: the well-behaved ones, then the looper and the hoarder.
pub fn plugins() -> Vec<PluginSpec> {
    let mut specs: Vec<PluginSpec> = (0..WELL_BEHAVED)
        .map(|i| PluginSpec::new(format!("quiet-{i}"), LIMITER, "{}"))
        .collect();
    specs.push(PluginSpec::new("noisy-looper", LOOPER, "{}"));
    specs.push(PluginSpec::new("noisy-hoarder", HOARDER, "{}"));
    specs
}

/// What the well-behaved calls saw.
#[derive(Debug, Clone, PartialEq)]
pub struct NeighbourLatency {
    /// Well-behaved calls made.
    pub calls: usize,
    /// Of them, failed or answered wrongly.
    pub failures: usize,
    /// Median latency of a well-behaved call, seconds.
    pub p50: f64,
    /// 99th percentile, seconds.
    pub p99: f64,
    /// Calls of the looper and the hoarder made (0 when quiet).
    pub noisy_calls: usize,
    /// Of them, stopped with an error (the rest returned: not stopped).
    pub noisy_stopped: usize,
}

/// `rounds` rounds of the load on `side`: each of [`THREADS`] threads walks
/// the 20 plugins from its own starting point every round, calling the
/// looper and the hoarder too when `noisy`. Thread setup (native threads
/// load their own states) and one warm-up call of each well-behaved plugin
/// per thread are not timed.
pub fn well_behaved_latency(
    side: &dyn Side,
    rounds: usize,
    noisy: bool,
) -> BenchResult<NeighbourLatency> {
    let specs = plugins();
    let count = specs.len();
    let factory = side.per_thread(&specs)?;
    let all = Mutex::new((Vec::new(), 0usize, 0usize, 0usize));
    std::thread::scope(|scope| -> BenchResult<()> {
        let workers: Vec<_> = (0..THREADS)
            .map(|thread| {
                let (factory, all) = (&factory, &all);
                scope.spawn(move || -> BenchResult<()> {
                    let plugins = factory()?;
                    for plugin in &plugins[..WELL_BEHAVED] {
                        plugin.on_request(&mut request_context(ContextSize::Small, thread))?;
                    }
                    let (mut latencies, mut failures, mut noisy_calls, mut noisy_stopped) =
                        (Vec::new(), 0, 0, 0);
                    for round in 0..rounds {
                        for k in 0..count {
                            let slot = (k + thread * 3 + round) % count;
                            let mut ctx =
                                request_context(ContextSize::Small, round * THREADS + thread);
                            if slot >= WELL_BEHAVED {
                                if noisy {
                                    noisy_calls += 1;
                                    noisy_stopped +=
                                        usize::from(plugins[slot].on_request(&mut ctx).is_err());
                                }
                                continue;
                            }
                            let started = Instant::now();
                            let result = plugins[slot].on_request(&mut ctx);
                            latencies.push(started.elapsed());
                            let served = matches!(result, Ok(RequestAction::Continue))
                                && ctx.extensions.contains_key("hits");
                            failures += usize::from(!served);
                        }
                    }
                    let mut all = all
                        .lock()
                        .map_err(|_| BenchError::Invalid("a load thread panicked".into()))?;
                    all.0.extend(latencies);
                    all.1 += failures;
                    all.2 += noisy_calls;
                    all.3 += noisy_stopped;
                    Ok(())
                })
            })
            .collect();
        for worker in workers {
            worker
                .join()
                .map_err(|_| BenchError::Invalid("a load thread panicked".into()))??;
        }
        Ok(())
    })?;
    let (mut latencies, failures, noisy_calls, noisy_stopped) = all
        .into_inner()
        .map_err(|_| BenchError::Invalid("a load thread panicked".into()))?;
    latencies.sort();
    let at = |p: f64| {
        latencies
            .get(((latencies.len().max(1) - 1) as f64 * p).round() as usize)
            .map_or(0.0, Duration::as_secs_f64)
    };
    Ok(NeighbourLatency {
        calls: latencies.len(),
        failures,
        p50: at(0.50),
        p99: at(0.99),
        noisy_calls,
        noisy_stopped,
    })
}

/// One row: a side, quiet or noisy.
#[derive(Debug, Clone)]
pub struct NeighbourRow {
    /// `wasm` or `native`.
    pub side: &'static str,
    /// With the looper and the hoarder called.
    pub noisy: bool,
    /// The figures.
    pub latency: NeighbourLatency,
}

/// The report's rows: both sides, quiet and noisy, in the order wasm quiet,
/// native quiet, native noisy, wasm noisy (so neither side always goes first).
pub fn rows(rounds: usize, progress: &mut dyn FnMut(String)) -> BenchResult<Vec<NeighbourRow>> {
    let wasm = WasmSide::new(WasmSetup::default())?;
    let native = NativeSide::default();
    let order: [(&dyn Side, bool); 4] = [
        (&wasm, false),
        (&native, false),
        (&native, true),
        (&wasm, true),
    ];
    let mut rows = Vec::new();
    for (side, noisy) in order {
        let latency = well_behaved_latency(side, rounds, noisy)?;
        progress(format!(
            "neighbours {} {}: p50 {} p99 {}, {} of {} failed",
            side.label(),
            if noisy { "noisy" } else { "quiet" },
            format_seconds(latency.p50),
            format_seconds(latency.p99),
            latency.failures,
            latency.calls
        ));
        rows.push(NeighbourRow {
            side: side.label(),
            noisy,
            latency,
        });
    }
    rows.sort_by_key(|r| (r.side != "wasm", r.noisy));
    Ok(rows)
}

/// The anchor of a side's noisy row in the report.
pub fn anchor(side: &str) -> String {
    format!("noisy-neighbour-{side}")
}

/// The rows as a markdown table with its note.
pub fn markdown(rows: &[NeighbourRow]) -> String {
    if rows.is_empty() {
        return String::new();
    }
    let mut out =
        String::from("### Isolation: a well-behaved plugin's latency beside noisy tenants\n\n");
    out.push_str("| side | load | well-behaved calls | failed | p50 | p99 | p99 against quiet | noisy calls stopped |\n");
    out.push_str("|---|---|---:|---:|---:|---:|---:|---:|\n");
    for row in rows {
        let quiet_p99 = rows
            .iter()
            .find(|r| r.side == row.side && !r.noisy)
            .map(|r| r.latency.p99);
        let (load, against, cell_anchor) = if row.noisy {
            let against = quiet_p99
                .filter(|q| *q > 0.0)
                .map_or("n/a".into(), |q| format!("{:.2}x", row.latency.p99 / q));
            (
                "noisy: looper + hoarder",
                against,
                format!("<a id=\"{}\"></a>", anchor(row.side)),
            )
        } else {
            ("quiet", String::new(), String::new())
        };
        let l = &row.latency;
        let stopped = if row.noisy {
            format!("{}/{}", l.noisy_stopped, l.noisy_calls)
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "| {cell_anchor}{} | {load} | {} | {} | {} | {} | {against} | {stopped} |",
            row.side,
            l.calls,
            l.failures,
            format_seconds(l.p50),
            format_seconds(l.p99)
        );
    }
    let _ = writeln!(
        out,
        "\nThe load of `tests/all/noisy_neighbour.rs`: {THREADS} threads each walk {} plugins per round from their own \
starting point: {WELL_BEHAVED} per-IP rate limiters, and when noisy also a plugin that loops forever and one that \
keeps allocating 64 KiB strings, both on every call. Every plugin runs with bext's budget (200 x 1000 instructions, \
64 MiB; wasm also a 1 s deadline). Quiet is the same walk with the two noisy slots skipped. Figures are per \
well-behaved call, timed one by one; failed counts calls that erred or answered wrongly. Wasm threads share the \
loaded plugins (each call takes a sandbox from the plugin's pool); native threads load their own Lua states. On 2 \
cores the 8 threads are oversubscribed, so a well-behaved call also waits for whatever holds the core.\n",
        WELL_BEHAVED + 2
    );
    out
}
