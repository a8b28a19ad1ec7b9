//! The async API's section of the report (`bench-report --async-api`):
//! what an async call costs over a synchronous one, and the tokio isolation
//! measure of the issue "async embedding": two workers serve four tenants,
//! one of which loops to its deadline under 50 concurrent requests, and the
//! good tenants' latency is compared with a quiet run, for a naive server
//! that calls the sync API on the worker and for the async API.

use crate::format::format_seconds;
use crate::measure::{Interleaved, Summary};
use crate::tiers::{BenchError, BenchResult, PluginSpec};
use crate::workloads::{self, ContextSize, request_context};
use bext_plugin_lua_wasm::{
    LuaPlugin, LuaPluginConfig, LuaPluginRuntime, LuaSandboxLimits, PoolConfig,
};
use std::fmt::Write as _;
use std::time::{Duration, Instant};

/// How much to measure.
#[derive(Debug, Clone, Copy)]
pub struct AsyncEffort {
    rounds: usize,
    calls_per_sample: u64,
    cold_starts_per_sample: u64,
    /// Good requests per isolation run, one every `interval`.
    good_requests: usize,
    /// Isolation runs per configuration (quiet and noisy alternate).
    isolation_rounds: usize,
}

impl AsyncEffort {
    /// A `--quick` run or a full one.
    pub fn new(quick: bool) -> Self {
        if quick {
            AsyncEffort {
                rounds: 7,
                calls_per_sample: 300,
                cold_starts_per_sample: 20,
                good_requests: 300,
                isolation_rounds: 1,
            }
        } else {
            AsyncEffort {
                rounds: 21,
                calls_per_sample: 2000,
                cold_starts_per_sample: 100,
                good_requests: 600,
                isolation_rounds: 3,
            }
        }
    }
}

/// Time between two good requests of the isolation measure.
const GOOD_REQUEST_INTERVAL: Duration = Duration::from_millis(2);
/// The looping tenant's deadline.
const LOOP_DEADLINE_MS: u64 = 100;
/// Concurrent requests to the looping tenant.
const LOOPING_REQUESTS: usize = 50;
/// Worker threads of the isolation measure's tokio runtime.
const WORKERS: usize = 2;

/// Async against sync for one measure.
#[derive(Debug, Clone)]
pub struct OverheadRow {
    /// What was measured.
    pub name: String,
    /// Seconds per call through the sync API.
    pub sync: Summary,
    /// Seconds per call through the async API.
    pub async_: Summary,
    /// Median of the per-round ratios async/sync.
    pub ratio: f64,
}

/// The good tenants' latencies of one isolation configuration.
#[derive(Debug, Clone)]
pub struct IsolationRow {
    /// `sync API on the worker` or `async API`.
    pub api: &'static str,
    /// Good-request latencies without the looping tenant, seconds.
    pub quiet: Percentiles,
    /// The same with the looping tenant under 50 concurrent requests.
    pub noisy: Percentiles,
    /// Good requests served in the noisy runs (all of them must be).
    pub served: usize,
}

/// Latency percentiles in seconds.
#[derive(Debug, Clone, Copy)]
pub struct Percentiles {
    /// Median.
    pub p50: f64,
    /// 99th percentile.
    pub p99: f64,
}

impl Percentiles {
    fn of(samples: &mut [f64]) -> Percentiles {
        samples.sort_by(f64::total_cmp);
        let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
        Percentiles {
            p50: at(0.5),
            p99: at(0.99),
        }
    }
}

/// The whole section.
#[derive(Debug, Clone)]
pub struct AsyncReport {
    /// Per-call and cold-start overhead.
    pub overhead: Vec<OverheadRow>,
    /// Isolation, sync API then async API.
    pub isolation: Vec<IsolationRow>,
}

/// Runs every measure of the section.
pub fn run(effort: AsyncEffort, mut progress: impl FnMut(&str)) -> BenchResult<AsyncReport> {
    let runtime = LuaPluginRuntime::with_config(Default::default())?;
    let executor = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(io_error)?;
    let mut overhead = Vec::new();
    for (label, spec) in [
        ("rate limiter", workloads::ratelimit()),
        ("security headers", workloads::security_headers()),
    ] {
        let plugin = load(&runtime, &spec, PoolConfig::default())?;
        let name = format!("{label} on_request, 300 B context");
        overhead.push(overhead_row(
            name,
            effort,
            effort.calls_per_sample,
            &plugin,
            &executor,
        )?);
        progress(&overhead.last().expect("pushed").name);
    }
    let fresh = load(
        &runtime,
        &workloads::ratelimit(),
        PoolConfig::default().size(0).fresh_instance_per_call(true),
    )?;
    let name = "cold start: new sandbox (fork) + first on_request + drop, rate limiter".to_string();
    overhead.push(overhead_row(
        name,
        effort,
        effort.cold_starts_per_sample,
        &fresh,
        &executor,
    )?);
    progress(&overhead.last().expect("pushed").name);

    let mut isolation = Vec::new();
    for api in [Api::Sync, Api::Async] {
        isolation.push(isolation_row(&runtime, api, effort)?);
        progress(api.label());
    }
    Ok(AsyncReport {
        overhead,
        isolation,
    })
}

fn io_error(e: std::io::Error) -> BenchError {
    BenchError::Invalid(format!("cannot start a tokio runtime: {e}"))
}

fn load(runtime: &LuaPluginRuntime, spec: &PluginSpec, pool: PoolConfig) -> BenchResult<LuaPlugin> {
    load_with(runtime, spec, LuaSandboxLimits::default(), pool)
}

fn load_with(
    runtime: &LuaPluginRuntime,
    spec: &PluginSpec,
    limits: LuaSandboxLimits,
    pool: PoolConfig,
) -> BenchResult<LuaPlugin> {
    let name = format!("{}-async-bench", spec.name);
    let manifest = crate::manifest_without_capabilities(spec.name.as_str());
    let config = LuaPluginConfig::new(name, manifest, spec.source.clone())
        .config_json(spec.config_json.as_str())
        .limits(limits)
        .pool(pool);
    Ok(runtime.load_plugin(config)?)
}

/// `calls` on_request calls per sample through each API, interleaved.
fn overhead_row(
    name: String,
    effort: AsyncEffort,
    calls: u64,
    plugin: &LuaPlugin,
    executor: &tokio::runtime::Runtime,
) -> BenchResult<OverheadRow> {
    let sync = || -> BenchResult<f64> {
        let started = Instant::now();
        for i in 0..calls {
            plugin.try_on_request(&mut request_context(ContextSize::Small, i as usize))?;
        }
        Ok(started.elapsed().as_secs_f64() / calls as f64)
    };
    let asynchronous = || -> BenchResult<f64> {
        executor.block_on(async {
            let started = Instant::now();
            for i in 0..calls {
                plugin
                    .try_on_request_async(&mut request_context(ContextSize::Small, i as usize))
                    .await?;
            }
            Ok::<f64, BenchError>(started.elapsed().as_secs_f64() / calls as f64)
        })
    };
    // `Interleaved` pairs two sides: here async (first) and sync.
    let samples = Interleaved::run(effort.rounds, 2, asynchronous, sync)?;
    Ok(OverheadRow {
        name,
        sync: Summary::of(&samples.native),
        async_: Summary::of(&samples.wasm),
        ratio: samples.ratio(),
    })
}

/// How the server calls plugins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Api {
    /// A naive server: the sync API, called on the tokio worker.
    Sync,
    /// The `try_*_async` methods.
    Async,
}

impl Api {
    fn label(self) -> &'static str {
        match self {
            Api::Sync => "sync API on the worker",
            Api::Async => "async API",
        }
    }
}

/// Quiet and noisy runs of one API, alternating.
fn isolation_row(
    runtime: &LuaPluginRuntime,
    api: Api,
    effort: AsyncEffort,
) -> BenchResult<IsolationRow> {
    // Each tenant's fair share of two workers: one call at a time
    // (`max_concurrent_calls`, the async API's cap; the default on 2 CPUs).
    let pool = PoolConfig::default().max_concurrent_calls(WORKERS / 2);
    let good: Vec<LuaPlugin> = [
        workloads::ratelimit(),
        workloads::auth(),
        workloads::security_headers(),
    ]
    .iter()
    .map(|spec| load(runtime, spec, pool))
    .collect::<BenchResult<_>>()?;
    let looping_limits = LuaSandboxLimits::default()
        .fuel_per_call(0)
        .timeout_ms(LOOP_DEADLINE_MS)
        .quarantine_after_traps(0);
    let runaway = PluginSpec::new(
        "runaway",
        include_str!("../../examples/plugins/runaway.lua"),
        "{}",
    );
    let looping = load_with(runtime, &runaway, looping_limits, pool)?;
    let (mut quiet, mut noisy, mut served) = (Vec::new(), Vec::new(), 0);
    for _ in 0..effort.isolation_rounds {
        quiet.extend(isolation_run(api, &good, None, effort.good_requests)?);
        let latencies = isolation_run(api, &good, Some(&looping), effort.good_requests)?;
        served += latencies.len();
        noisy.extend(latencies);
    }
    Ok(IsolationRow {
        api: api.label(),
        quiet: Percentiles::of(&mut quiet),
        noisy: Percentiles::of(&mut noisy),
        served,
    })
}

/// One run on a fresh 2-worker runtime: `requests` good requests, one
/// every [`GOOD_REQUEST_INTERVAL`] spread over the good tenants, spawned
/// from a thread outside the runtime; with `looping`, 50 requests that loop
/// to their deadline are spawned first. Returns each good request's latency
/// from its spawn to its completion.
fn isolation_run(
    api: Api,
    good: &[LuaPlugin],
    looping: Option<&LuaPlugin>,
    requests: usize,
) -> BenchResult<Vec<f64>> {
    let executor = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKERS)
        .enable_all()
        .build()
        .map_err(io_error)?;
    // Warm: each good tenant's sandbox of this API exists before timing.
    for plugin in good {
        let mut ctx = request_context(ContextSize::Small, 0);
        executor.block_on(call(api, plugin.clone(), &mut ctx))?;
    }
    let noise: Vec<_> = looping
        .into_iter()
        .flat_map(|plugin| std::iter::repeat_n(plugin, LOOPING_REQUESTS))
        .map(|plugin| {
            let plugin = plugin.clone();
            executor.spawn(async move {
                let mut ctx = request_context(ContextSize::Small, 0);
                ctx.path = "/spin".into();
                // Every one ends with a typed error (deadline or fair share).
                call(api, plugin, &mut ctx).await.err()
            })
        })
        .collect();
    let started = Instant::now();
    let mut pending = Vec::with_capacity(requests);
    for i in 0..requests {
        let due = started + GOOD_REQUEST_INTERVAL * i as u32;
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
        let plugin = good[i % good.len()].clone();
        let spawned = Instant::now();
        pending.push(executor.spawn(async move {
            let mut ctx = request_context(ContextSize::Small, i);
            call(api, plugin, &mut ctx)
                .await
                .map(|_| spawned.elapsed().as_secs_f64())
        }));
    }
    let latencies = executor.block_on(async {
        let mut latencies = Vec::with_capacity(pending.len());
        for request in pending {
            latencies.push(
                request
                    .await
                    .map_err(|e| BenchError::Invalid(format!("a good request panicked: {e}")))??,
            );
        }
        for request in noise {
            if request
                .await
                .map_err(|e| BenchError::Invalid(format!("a looping request panicked: {e}")))?
                .is_none()
            {
                return Err(BenchError::Invalid("a looping request succeeded".into()));
            }
        }
        Ok::<_, BenchError>(latencies)
    })?;
    Ok(latencies)
}

/// One on_request through `api`.
async fn call(
    api: Api,
    plugin: LuaPlugin,
    ctx: &mut bext_plugin_api::middleware::RequestContext,
) -> BenchResult<()> {
    match api {
        Api::Sync => plugin.try_on_request(ctx)?,
        Api::Async => plugin.try_on_request_async(ctx).await?,
    };
    Ok(())
}

impl AsyncReport {
    /// The section as markdown.
    pub fn markdown(&self) -> String {
        let mut out = String::from("### Async API\n\n");
        out.push_str(
            "Per call: the same plugin through `try_on_request` and `try_on_request_async` (awaited in a loop on a \
current-thread tokio runtime), interleaved round by round; medians, spread as half the interquartile range.\n\n",
        );
        out.push_str(
            "| measure | sync | async | async/sync | async - sync |\n|---|---:|---:|---:|---:|\n",
        );
        for row in &self.overhead {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {:.2}x | {:+.0} ns |",
                row.name,
                format_seconds(row.sync.median),
                format_seconds(row.async_.median),
                row.ratio,
                (row.async_.median - row.sync.median) * 1e9
            );
        }
        let _ = write!(
            out,
            "\nIsolation: a tokio runtime with {WORKERS} workers serves four tenants (rate limiter, auth, security \
headers, and `runaway.lua`, which loops on `/spin` until its {LOOP_DEADLINE_MS} ms deadline). Good requests arrive one \
every {} ms from a thread outside the runtime; latency is from spawn to completion. Noisy: {LOOPING_REQUESTS} \
looping requests are spawned first. Every tenant's `max_concurrent_calls` is 1 (half the workers).\n\n",
            GOOD_REQUEST_INTERVAL.as_millis()
        );
        out.push_str("| server | quiet p50 | quiet p99 | noisy p50 | noisy p99 | noisy/quiet p99 | good requests served |\n");
        out.push_str("|---|---:|---:|---:|---:|---:|---:|\n");
        for row in &self.isolation {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {:.1}x | {} |",
                row.api,
                format_seconds(row.quiet.p50),
                format_seconds(row.quiet.p99),
                format_seconds(row.noisy.p50),
                format_seconds(row.noisy.p99),
                row.noisy.p99 / row.quiet.p99,
                row.served
            );
        }
        out
    }
}
