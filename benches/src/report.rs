//! The report behind `cargo run --release --bin bench-report`: every
//! measure, both sides in one process, interleaved; a markdown table and an
//! SVG chart of the ratios.

use crate::format::{format_bytes, format_seconds};
use crate::isolation::{IsolationSection, IsolationSettings};
use crate::measure::{
    Interleaved, Summary, pss_per_instance, seconds_per_call_across_threads, seconds_per_op,
};
use crate::table::{Group, Row, Unit};
use crate::tiers::{
    BenchError, BenchResult, Budget, Metering, NativeSide, Plugin, PluginSpec, Side, WasmSetup,
    WasmSide,
};
use crate::workloads::{
    self, CPU_PROGRAMS, ContextSize, CpuProgram, request_context, upstream_response,
};
use bext_plugin_lua_wasm::ColdStart;
use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

/// The bext docs' figures for the native (mlua) tier.
const CLAIMED_NATIVE_COLD_START_SECONDS: f64 = 1e-3;
const CLAIMED_NATIVE_BYTES_PER_STATE: f64 = 150e3;

/// How the figures were taken, at the top of every report.
const METHOD: &str = "\
**wasm**: bext-plugin-lua-wasm with its defaults (fuel and epoch deadlines, bext's per-call budget, \
sandboxes forked from the plugin's template, memory mapped on demand) unless a row says otherwise. \
**native**: the same scripts on Lua 5.4 through mlua 0.12 (vendored), set up as bext's native tier: \
the same library subset and `bext` table, a 64 MiB limit, a count hook every 1000 instructions \
enforcing the per-call budget. CPU programs and the error path run with a budget of 10^10 \
instructions on both sides, and must return the same checksum on both before they are timed.

Both sides run in this one process, interleaved round by round (wasm then native, then native then \
wasm). Figures are medians; spread is half the interquartile range as a percentage of the median; \
**wasm/native** is the median of the per-round ratios (below 1: the sandbox is cheaper).

";

fn footnote(group: Group) -> &'static str {
    match group {
        Group::ColdStart => {
            " Every native figure is the same thing (a new Lua state, the libraries, the script, the first \
call, the state dropped) except in the last row. The sandbox rows start a new sandbox of a loaded \
plugin, drop included; the last three load the plugin too: the second-to-last also starts a second \
runtime in the running process (the compiled guest is already in its memory), and the last is a whole \
new process on both sides (this executable started again: a runtime from the compiled guest on disk, \
or a new Lua state), timed from spawn to exit."
        }
        Group::PerCall => {
            " Each call serialises the context to JSON, the script decodes it with `bext.json`, and the \
action is parsed and applied. The guest's `bext.json` is C working on the Lua stack; the native \
baseline's goes through serde_json and mlua's serde conversion, which is why larger contexts favour \
the sandbox."
        }
        Group::Memory => {
            " PSS growth of the process divided by the live instances, plugin loads included, after \
returning free heap to the OS (`malloc_trim`). Shared memory is counted as the fork templates' arena, \
once (`bext_lua_bench::measure::memory_bytes`): the sandboxes of one plugin map its template's pages \
copy-on-write, and PSS alone would not count pages no sandbox maps. With one instance the figure is about fixed costs, not \
instances: the native state is served from heap pages already resident, the sandbox's includes its \
plugin's fork template. Read the 100 and 1000 rows for the cost per instance."
        }
        Group::Scaling => {
            " Each thread makes its calls on its own instances: wasm threads share the loaded plugins \
(each call takes a sandbox from the plugin's pool), native threads load their own Lua states. Past \
2 threads the 2 cores are oversubscribed."
        }
        Group::SharedState => {
            " Native mlua has no shared dictionary: its `bext.shared` (native/src/native_shared.lua) is a table in \
the Lua state, which is what a counter costs in bext's mlua tier, and is exact only within one state. The \
sandbox's is on the host, shared by all the plugin's sandboxes (exact across a pool); the Redis rows talk \
to a `redis-server` on 127.0.0.1 started by the report, shared by every node. The first row is a plain Lua \
global on both sides, for scale."
        }
        Group::Run => {
            " Here **wasm** is `bext-lua run -e CHUNK` (the full profile: no fuel, no deadline, every \
library; the compiled guest loaded from its disk cache) and **native** is Debian's `lua5.4 -e CHUNK` \
(Lua 5.4.4), each a new process timed from spawn to exit; CHUNK runs a program of `benches/lua/` with \
a larger N than the CPU group, and both must print the same line. The geometric mean leaves out the \
start-up row."
        }
        _ => "",
    }
}

/// How much to measure.
#[derive(Debug, Clone)]
pub struct ReportOptions {
    /// Fewer rounds and smaller inputs: under two minutes on 2 cores.
    pub quick: bool,
    /// Only these groups (all when empty).
    pub only: Vec<Group>,
}

/// Rounds and batch sizes of a quick or a full run.
#[derive(Debug, Clone, Copy)]
struct Effort {
    rounds: usize,
    warmup: usize,
    cold_starts_per_sample: u64,
    calls_per_sample: u64,
    memory_rounds: usize,
    calls_per_thread: usize,
    pcalls: u32,
}

impl Effort {
    fn new(quick: bool) -> Effort {
        if quick {
            Effort {
                rounds: 7,
                warmup: 1,
                cold_starts_per_sample: 10,
                calls_per_sample: 200,
                memory_rounds: 3,
                calls_per_thread: 400,
                pcalls: 2000,
            }
        } else {
            Effort {
                rounds: 21,
                warmup: 2,
                cold_starts_per_sample: 40,
                calls_per_sample: 2000,
                memory_rounds: 7,
                calls_per_thread: 3000,
                pcalls: 20_000,
            }
        }
    }
}

/// A finished run.
#[derive(Debug, Clone)]
pub struct Report {
    /// Every measure.
    pub rows: Vec<Row>,
    /// Whether it was a `--quick` run.
    pub quick: bool,
    /// Wall time of the whole run in seconds.
    pub seconds: f64,
    /// The isolation section, when it ran.
    pub isolation: Option<IsolationSection>,
}

/// Runs the measures, calling `progress` after each row.
pub fn run(options: &ReportOptions, mut progress: impl FnMut(&Row)) -> BenchResult<Report> {
    let started = Instant::now();
    let effort = Effort::new(options.quick);
    let mut rows = Vec::new();
    let mut isolation = None;
    let wanted = |g: Group| options.only.is_empty() || options.only.contains(&g);
    let mut push = |row: Row| {
        progress(&row);
        rows.push(row);
    };
    for group in Group::ALL.into_iter().filter(|g| wanted(*g)) {
        match group {
            Group::ColdStart => cold_start(effort, &mut push)?,
            Group::PerCall => per_call(effort, &mut push)?,
            Group::Cpu => cpu(effort, options.quick, &mut push)?,
            Group::Metering => metering(effort, options.quick, &mut push)?,
            Group::ErrorPath => error_path(effort, &mut push)?,
            Group::Memory => memory(effort, &mut push)?,
            Group::Scaling => scaling(effort, &mut push)?,
            Group::SharedState => shared_state(effort, &mut push)?,
            Group::Run => {
                match crate::cli_run::missing_prerequisite().filter(|_| options.only.is_empty()) {
                    Some(missing) => eprintln!(
                        "bench-report: skipping the run group: {missing} (ask for it with --only run)"
                    ),
                    None => crate::cli_run::measure(
                        effort.rounds.min(7),
                        1,
                        options.quick,
                        row,
                        &mut push,
                    )?,
                }
            }
            Group::Isolation => {
                let settings = IsolationSettings::for_report(options.quick)?;
                isolation = Some(crate::isolation::run(&settings, &mut |line: String| {
                    eprintln!("isolation   {line}")
                })?);
            }
        }
    }
    Ok(Report {
        rows,
        quick: options.quick,
        seconds: started.elapsed().as_secs_f64(),
        isolation,
    })
}

fn row(group: Group, name: impl Into<String>, unit: Unit, samples: &Interleaved) -> Row {
    Row {
        group,
        name: name.into(),
        unit,
        wasm: Summary::of(&samples.wasm),
        native: Summary::of(&samples.native),
        ratio: samples.ratio(),
        rounds: samples.wasm.len(),
    }
}

/// One cold start: load, first `on_request`, drop.
fn load_and_first_request(side: &dyn Side, spec: &PluginSpec, i: u64) -> BenchResult<()> {
    let plugin = side.load(spec)?;
    plugin.on_request(&mut request_context(ContextSize::Small, i as usize))?;
    Ok(())
}

fn cold_start(effort: Effort, push: &mut dyn FnMut(Row)) -> BenchResult<()> {
    let spec = workloads::ratelimit();
    let native = NativeSide::default();
    let batch = effort.cold_starts_per_sample;
    let native_cold = || {
        seconds_per_op(batch, |n| {
            (0..n).try_for_each(|i| load_and_first_request(&native, &spec, i))
        })
    };

    // A new sandbox of an already loaded plugin, for every call.
    let paths = [
        (
            "new sandbox by fork, pooling allocator",
            ColdStart::Fork,
            true,
        ),
        (
            "new sandbox by fork, memory on demand",
            ColdStart::Fork,
            false,
        ),
        (
            "new sandbox from source, pooling allocator",
            ColdStart::Source,
            true,
        ),
        (
            "new sandbox from source, memory on demand",
            ColdStart::Source,
            false,
        ),
    ];
    for (name, cold_start, pooling) in paths {
        let setup = WasmSetup {
            cold_start,
            pooling,
            fresh_instance_per_call: true,
            ..WasmSetup::default()
        };
        let side = WasmSide::new(setup)?;
        let plugin = side.load(&spec)?;
        let samples = Interleaved::run(
            effort.rounds,
            effort.warmup,
            || {
                seconds_per_op(batch, |n| {
                    (0..n).try_for_each(|i| {
                        plugin
                            .on_request(&mut request_context(ContextSize::Small, i as usize))
                            .map(drop)
                    })
                })
            },
            native_cold,
        )?;
        push(row(Group::ColdStart, name, Unit::Seconds, &samples));
    }

    let side = WasmSide::new(WasmSetup::default())?;
    let samples = Interleaved::run(
        effort.rounds,
        effort.warmup,
        || {
            seconds_per_op(batch, |n| {
                (0..n).try_for_each(|i| load_and_first_request(&side, &spec, i))
            })
        },
        native_cold,
    )?;
    push(row(
        Group::ColdStart,
        "plugin load (parse, fork template) + first call",
        Unit::Seconds,
        &samples,
    ));

    // A second runtime in a running process: the compiled guest is already
    // in the process's memory.
    let cache = tempdir("bench-report-cache")?;
    let few = batch.div_ceil(8);
    let samples = Interleaved::run(
        effort.rounds,
        effort.warmup,
        || {
            seconds_per_op(few, |n| {
                (0..n).try_for_each(|i| {
                    let side = WasmSide::with_cache(WasmSetup::default(), Some(cache.clone()))?;
                    load_and_first_request(&side, &spec, i)
                })
            })
        },
        || {
            seconds_per_op(few, |n| {
                (0..n).try_for_each(|i| load_and_first_request(&native, &spec, i))
            })
        },
    )?;
    push(row(
        Group::ColdStart,
        "new runtime in a running process + plugin load + first call",
        Unit::Seconds,
        &samples,
    ));

    // A new process's path: this executable started again as a child that
    // makes a runtime from the compiled guest on disk (the runtime above
    // wrote it), loads the plugin and serves one request; spawn to exit,
    // on both sides (the same executable, so the same exec cost).
    let program = std::env::current_exe()
        .map_err(|e| BenchError::Invalid(format!("cannot find this executable: {e}")))?;
    let spawn = |side: &str| {
        seconds_per_op(few, |n| {
            (0..n).try_for_each(|_| {
                let status = std::process::Command::new(&program)
                    .args([FIRST_CALL_CHILD, side])
                    .arg(&cache)
                    .status()
                    .map_err(|e| {
                        BenchError::Invalid(format!("cannot start {FIRST_CALL_CHILD}: {e}"))
                    })?;
                status.success().then_some(()).ok_or_else(|| {
                    BenchError::Invalid(format!("{FIRST_CALL_CHILD} {side} failed: {status}"))
                })
            })
        })
    };
    let samples = Interleaved::run(
        effort.rounds,
        effort.warmup,
        || spawn("wasm"),
        || spawn("native"),
    )?;
    let _ = std::fs::remove_dir_all(&cache);
    push(row(
        Group::ColdStart,
        "new process: runtime from the disk cache + plugin load + first call",
        Unit::Seconds,
        &samples,
    ));
    Ok(())
}

/// The subcommand the cold-start group starts as a new process.
const FIRST_CALL_CHILD: &str = "__first-call-child";

/// If this process was started as the cold-start group's child
/// (`__first-call-child wasm|native CACHE_DIR`), loads the rate limiter,
/// serves one request and returns the exit code; `None` otherwise.
pub fn first_call_child_main() -> Option<std::process::ExitCode> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) != Some(FIRST_CALL_CHILD) {
        return None;
    }
    let run = || -> BenchResult<()> {
        let spec = workloads::ratelimit();
        match (args.get(1).map(String::as_str), args.get(2)) {
            (Some("wasm"), Some(cache)) => load_and_first_request(
                &WasmSide::with_cache(WasmSetup::default(), Some(cache.into()))?,
                &spec,
                0,
            ),
            (Some("native"), Some(_)) => load_and_first_request(&NativeSide::default(), &spec, 0),
            _ => Err(BenchError::Invalid(format!(
                "usage: {FIRST_CALL_CHILD} wasm|native CACHE_DIR"
            ))),
        }
    };
    Some(match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{FIRST_CALL_CHILD}: {e}");
            std::process::ExitCode::from(3)
        }
    })
}

fn tempdir(tag: &str) -> BenchResult<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir)
        .map_err(|e| BenchError::Invalid(format!("cannot create {}: {e}", dir.display())))?;
    Ok(dir)
}

fn per_call(effort: Effort, push: &mut dyn FnMut(Row)) -> BenchResult<()> {
    let wasm = WasmSide::new(WasmSetup::default())?;
    let native = NativeSide::default();
    let calls = effort.calls_per_sample;
    for spec in workloads::middleware() {
        let (w, n) = (wasm.load(&spec)?, native.load(&spec)?);
        for size in ContextSize::ALL {
            let on_request = |plugin: &dyn Plugin| {
                seconds_per_op(calls, |n| {
                    (0..n).try_for_each(|i| {
                        plugin
                            .on_request(&mut request_context(size, i as usize))
                            .map(drop)
                    })
                })
            };
            let samples = Interleaved::run(
                effort.rounds,
                effort.warmup,
                || on_request(&*w),
                || on_request(&*n),
            )?;
            push(row(
                Group::PerCall,
                format!("{} on_request, {}", spec.name, size.label()),
                Unit::Seconds,
                &samples,
            ));
        }
    }
    // security_headers does its work in on_response.
    let spec = workloads::security_headers();
    let (w, n) = (wasm.load(&spec)?, native.load(&spec)?);
    for size in ContextSize::ALL {
        let on_response = |plugin: &dyn Plugin| {
            let ctx = request_context(size, 0);
            seconds_per_op(calls, |n| {
                (0..n).try_for_each(|_| plugin.on_response(&ctx, &mut upstream_response()))
            })
        };
        let samples = Interleaved::run(
            effort.rounds,
            effort.warmup,
            || on_response(&*w),
            || on_response(&*n),
        )?;
        push(row(
            Group::PerCall,
            format!("security_headers on_response, {}", size.label()),
            Unit::Seconds,
            &samples,
        ));
    }
    Ok(())
}

/// Both sides must compute the same result before either is timed.
fn same_result(
    program: &str,
    wasm: &dyn Plugin,
    native: &dyn Plugin,
    arg: &str,
) -> BenchResult<()> {
    let (w, n) = (wasm.call("run", arg)?, native.call("run", arg)?);
    if w != n {
        return Err(BenchError::Invalid(format!(
            "{program}({arg}): wasm returned {w:?}, native {n:?}"
        )));
    }
    Ok(())
}

fn run_program(plugin: &dyn Plugin, arg: &str) -> BenchResult<f64> {
    seconds_per_op(1, |_| plugin.call("run", arg).map(drop))
}

fn cpu(effort: Effort, quick: bool, push: &mut dyn FnMut(Row)) -> BenchResult<()> {
    let wasm = WasmSide::new(WasmSetup {
        budget: Budget::Large,
        ..WasmSetup::default()
    })?;
    let native = NativeSide::new(Metering::Both, Budget::Large);
    for program in CPU_PROGRAMS {
        let arg = program.arg(quick);
        let (w, n) = (wasm.load(&program.spec())?, native.load(&program.spec())?);
        same_result(program.name, &*w, &*n, &arg)?;
        let samples = Interleaved::run(
            effort.rounds,
            effort.warmup,
            || run_program(&*w, &arg),
            || run_program(&*n, &arg),
        )?;
        push(row(
            Group::Cpu,
            format!("{}({arg})", program.name),
            Unit::Seconds,
            &samples,
        ));
    }
    Ok(())
}

fn metering(effort: Effort, quick: bool, push: &mut dyn FnMut(Row)) -> BenchResult<()> {
    let program: CpuProgram = CPU_PROGRAMS[0];
    let arg = program.arg(quick);
    for metering in Metering::ALL {
        let wasm = WasmSide::new(WasmSetup {
            metering,
            budget: Budget::Large,
            ..WasmSetup::default()
        })?;
        let native = NativeSide::new(metering, Budget::Large);
        let (w, n) = (wasm.load(&program.spec())?, native.load(&program.spec())?);
        same_result(program.name, &*w, &*n, &arg)?;
        let samples = Interleaved::run(
            effort.rounds,
            effort.warmup,
            || run_program(&*w, &arg),
            || run_program(&*n, &arg),
        )?;
        let native_label = if metering == Metering::None {
            "no hook"
        } else {
            "count hook"
        };
        let name = format!(
            "{}({arg}), wasm {} vs native {native_label}",
            program.name,
            metering.label()
        );
        push(row(Group::Metering, name, Unit::Seconds, &samples));
    }
    Ok(())
}

fn error_path(effort: Effort, push: &mut dyn FnMut(Row)) -> BenchResult<()> {
    let wasm = WasmSide::new(WasmSetup {
        budget: Budget::Large,
        ..WasmSetup::default()
    })?;
    let native = NativeSide::new(Metering::Both, Budget::Large);
    let spec = workloads::pcall_error();
    let (w, n) = (wasm.load(&spec)?, native.load(&spec)?);
    let arg = effort.pcalls.to_string();
    same_result(&spec.name, &*w, &*n, &arg)?;
    let per_pcall =
        |plugin: &dyn Plugin| run_program(plugin, &arg).map(|s| s / f64::from(effort.pcalls));
    let samples = Interleaved::run(
        effort.rounds,
        effort.warmup,
        || per_pcall(&*w),
        || per_pcall(&*n),
    )?;
    push(row(
        Group::ErrorPath,
        "pcall(error, ...) per caught error",
        Unit::Seconds,
        &samples,
    ));
    Ok(())
}

fn memory(effort: Effort, push: &mut dyn FnMut(Row)) -> BenchResult<()> {
    let wasm = WasmSide::new(WasmSetup {
        max_instances_per_plugin: 1000,
        ..WasmSetup::default()
    })?;
    let native = NativeSide::default();
    let [(one_label, one), (many_label, many)] = workloads::plugin_sets();
    let cases = [
        (one_label, &one, 1),
        (one_label, &one, 100),
        (one_label, &one, 1000),
        (many_label, &many, 100),
        (many_label, &many, 1000),
    ];
    for (label, specs, instances) in cases {
        let samples = Interleaved::run(
            effort.memory_rounds,
            1,
            || pss_per_instance(&wasm, specs, instances),
            || pss_per_instance(&native, specs, instances),
        )?;
        let live = if instances == 1 {
            "1 live instance".to_string()
        } else {
            format!("{instances} live instances")
        };
        push(row(
            Group::Memory,
            format!("{label}, {live}"),
            Unit::Bytes,
            &samples,
        ));
    }
    Ok(())
}

fn scaling(effort: Effort, push: &mut dyn FnMut(Row)) -> BenchResult<()> {
    let wasm = WasmSide::new(WasmSetup {
        ready_instances_per_plugin: 4,
        ..WasmSetup::default()
    })?;
    let native = NativeSide::default();
    for (label, specs) in workloads::plugin_sets() {
        for threads in [1, 2, 4] {
            let per_call = |side: &dyn Side| {
                seconds_per_call_across_threads(side, &specs, threads, effort.calls_per_thread)
            };
            let samples = Interleaved::run(
                effort.rounds.min(11),
                1,
                || per_call(&wasm),
                || per_call(&native),
            )?;
            let name = format!(
                "{label}, {threads} thread{}",
                if threads == 1 { "" } else { "s" }
            );
            push(row(Group::Scaling, name, Unit::Seconds, &samples));
        }
    }
    Ok(())
}

fn shared_state(effort: Effort, push: &mut dyn FnMut(Row)) -> BenchResult<()> {
    let wasm = WasmSide::new(WasmSetup::default())?;
    let native = NativeSide::default();
    let ops = effort.calls_per_sample.to_string();
    let per_op =
        |plugin: &dyn Plugin| run_program(plugin, &ops).map(|s| s / effort.calls_per_sample as f64);
    for (label, spec) in [
        ("Lua global increment, per op", workloads::global_counter()),
        ("bext.shared:incr, per call", workloads::shared_counter()),
    ] {
        let (w, n) = (wasm.load(&spec)?, native.load(&spec)?);
        let samples =
            Interleaved::run(effort.rounds, effort.warmup, || per_op(&*w), || per_op(&*n))?;
        push(row(Group::SharedState, label, Unit::Seconds, &samples));
    }
    // The fleet backend: a real server on loopback, or no rows without one.
    let server = match bext_test_support::redis_server::RedisServer::start() {
        Ok(server) => server,
        Err(e) => {
            eprintln!("bench-report: no Redis rows: {e}");
            return Ok(());
        }
    };
    let redis = bext_plugin_lua_wasm::RedisShared::new(&server.url())?;
    let wasm = WasmSide::with_shared_backend(
        WasmSetup::default(),
        bext_plugin_lua_wasm::SharedBackend::Redis(redis),
    )?;
    let spec = workloads::shared_counter();
    let (w, n) = (wasm.load(&spec)?, native.load(&spec)?);
    let samples = Interleaved::run(effort.rounds, effort.warmup, || per_op(&*w), || per_op(&*n))?;
    push(row(
        Group::SharedState,
        "bext.shared:incr, per call, Redis on loopback",
        Unit::Seconds,
        &samples,
    ));
    let spec = workloads::ratelimit();
    let (w, n) = (wasm.load(&spec)?, native.load(&spec)?);
    let on_request = |plugin: &dyn Plugin| {
        seconds_per_op(effort.calls_per_sample, |calls| {
            (0..calls).try_for_each(|i| {
                plugin
                    .on_request(&mut request_context(ContextSize::Small, i as usize))
                    .map(drop)
            })
        })
    };
    let samples = Interleaved::run(
        effort.rounds,
        effort.warmup,
        || on_request(&*w),
        || on_request(&*n),
    )?;
    push(row(
        Group::SharedState,
        "ratelimit on_request, 300 B ctx, Redis on loopback",
        Unit::Seconds,
        &samples,
    ));
    Ok(())
}

impl Report {
    /// The geometric mean of the CPU set's ratios.
    pub fn cpu_geomean(&self) -> Option<f64> {
        self.geomean(|r| r.group == Group::Cpu)
    }

    /// The geometric mean of the `run` group's program ratios (start-up left out).
    pub fn run_geomean(&self) -> Option<f64> {
        self.geomean(crate::cli_run::is_program_row)
    }

    fn geomean(&self, include: impl Fn(&Row) -> bool) -> Option<f64> {
        let ratios: Vec<f64> = self
            .rows
            .iter()
            .filter(|r| include(r) && r.ratio.is_finite())
            .map(|r| r.ratio)
            .collect();
        (!ratios.is_empty())
            .then(|| (ratios.iter().map(|r| r.ln()).sum::<f64>() / ratios.len() as f64).exp())
    }

    fn find(&self, group: Group, name: &str) -> Option<&Row> {
        self.rows
            .iter()
            .find(|r| r.group == group && r.name == name)
    }

    /// The tables, the geometric mean and the documented-figures
    /// comparison, as markdown.
    pub fn markdown(&self) -> String {
        let mut out = String::from(METHOD);
        for group in Group::ALL {
            let rows: Vec<&Row> = self.rows.iter().filter(|r| r.group == group).collect();
            let Some(first) = rows.first() else { continue };
            let _ = writeln!(out, "### {}\n", group.title());
            let _ = writeln!(
                out,
                "| measure | wasm | spread | native | spread | wasm/native |"
            );
            let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|");
            for r in &rows {
                let _ = writeln!(
                    out,
                    "| {} | {} | ±{:.0}% | {} | ±{:.0}% | {} |",
                    r.name,
                    r.show(r.wasm.median),
                    r.wasm.spread_percent() / 2.0,
                    r.show(r.native.median),
                    r.native.spread_percent() / 2.0,
                    if r.ratio.is_finite() {
                        format!("**{:.2}x**", r.ratio)
                    } else {
                        "n/a".into()
                    }
                );
            }
            if group == Group::Cpu
                && let Some(geomean) = self.cpu_geomean()
            {
                let _ = writeln!(
                    out,
                    "| **geometric mean of the CPU set** | | | | | **{geomean:.2}x** |"
                );
            }
            if group == Group::Run
                && let Some(geomean) = self.run_geomean()
            {
                let _ = writeln!(
                    out,
                    "| **geometric mean of the programs** | | | | | **{geomean:.2}x** |"
                );
            }
            let _ = writeln!(
                out,
                "\n{} rounds per row.{}\n",
                first.rounds,
                footnote(group)
            );
        }
        if let Some(isolation) = &self.isolation {
            out.push_str(&isolation.markdown());
        }
        out.push_str(&self.claims());
        out
    }

    /// bext's documented native figures next to the measured ones.
    fn claims(&self) -> String {
        let cold_native = self
            .rows
            .iter()
            .find(|r| r.group == Group::ColdStart)
            .map(|r| r.native.median);
        let cold_fork = self
            .find(Group::ColdStart, "new sandbox by fork, pooling allocator")
            .map(|r| r.wasm.median);
        let memory = self.find(Group::Memory, "1 plugin, 1000 live instances");
        if cold_native.is_none() && memory.is_none() {
            return String::new();
        }
        let show = |v: Option<f64>, f: fn(f64) -> String| v.map_or("not measured".to_string(), f);
        let mut out =
            String::from("### bext's documented figures for its native tier, next to this run\n\n");
        out.push_str("| figure | bext docs (native mlua tier) | native mlua, measured | wasm sandbox, measured |\n|---|---:|---:|---:|\n");
        let _ = writeln!(
            out,
            "| cold start (new state + script + first call) | ~{} | {} | {} (fork, pooling) |",
            format_seconds(CLAIMED_NATIVE_COLD_START_SECONDS),
            show(cold_native, format_seconds),
            show(cold_fork, format_seconds),
        );
        let _ = writeln!(
            out,
            "| memory per state (PSS, 1000 live) | ~{:.0} KB | {} | {} |",
            CLAIMED_NATIVE_BYTES_PER_STATE / 1e3,
            show(memory.map(|r| r.native.median), format_bytes),
            show(memory.map(|r| r.wasm.median), format_bytes),
        );
        out.push('\n');
        out
    }

    /// A horizontal bar chart of every row's ratio, as SVG.
    pub fn write_svg(&self, path: &Path) -> BenchResult<()> {
        use plotters::prelude::*;
        let svg_error = |e: &dyn std::fmt::Display| {
            BenchError::Invalid(format!("cannot draw {}: {e}", path.display()))
        };
        let labels: Vec<String> = self
            .rows
            .iter()
            .map(|r| format!("{}: {}", r.group.key(), r.name))
            .collect();
        let n = labels.len();
        // Log scale, bars from parity: 0.5x and 2x are equally far from 1.
        // Rows without a ratio (native measured zero) get no bar.
        let ratios = self
            .rows
            .iter()
            .map(|r| r.ratio)
            .filter(|r| r.is_finite())
            .map(|r| r.max(1e-3));
        let x_min = ratios.clone().fold(1.0f64, f64::min) / 1.5;
        let x_max = ratios.fold(1.0f64, f64::max) * 1.5;
        let root = SVGBackend::new(path, (1100, 80 + 22 * n as u32)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| svg_error(&e))?;
        let mut chart = ChartBuilder::on(&root)
            .caption("wasm sandbox / native mlua, median of interleaved rounds (left of 1: wasm cheaper)", ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(30)
            .y_label_area_size(520)
            .build_cartesian_2d((x_min..x_max).log_scale(), (0..n).into_segmented())
            .map_err(|e| svg_error(&e))?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(n)
            .y_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) => labels
                    .get(n.wrapping_sub(i + 1))
                    .cloned()
                    .unwrap_or_default(),
                _ => String::new(),
            })
            .x_labels(6)
            .max_light_lines(1)
            .x_desc("ratio wasm / native (log scale)")
            .x_label_formatter(&|x| format!("{x:.2}x"))
            .draw()
            .map_err(|e| svg_error(&e))?;
        // The first row at the top.
        let bars = self
            .rows
            .iter()
            .rev()
            .enumerate()
            .filter(|(_, r)| r.ratio.is_finite())
            .map(|(i, r)| {
                let colour = if r.ratio <= 1.0 {
                    RGBColor(46, 139, 87)
                } else {
                    RGBColor(205, 92, 92)
                };
                let (from, to) = (r.ratio.min(1.0), r.ratio.max(1.0));
                let mut bar = Rectangle::new(
                    [
                        (from, SegmentValue::Exact(i)),
                        (to, SegmentValue::Exact(i + 1)),
                    ],
                    colour.filled(),
                );
                bar.set_margin(3, 3, 0, 0);
                bar
            });
        chart.draw_series(bars).map_err(|e| svg_error(&e))?;
        let parity = LineSeries::new(
            [(1.0, SegmentValue::Exact(0)), (1.0, SegmentValue::Exact(n))],
            BLACK.stroke_width(1),
        );
        chart.draw_series(parity).map_err(|e| svg_error(&e))?;
        root.present().map_err(|e| svg_error(&e))?;
        Ok(())
    }
}

/// This machine, for the report's header: CPU, cores, memory, kernel.
pub fn machine_description() -> String {
    let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
    let cpuinfo = read("/proc/cpuinfo");
    let model = cpuinfo
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .and_then(|r| r.split_once(':'))
                .map(|(_, m)| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mem_gib = read("/proc/meminfo")
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|r| r.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0 / 1024.0);
    let kernel = read("/proc/sys/kernel/osrelease");
    format!(
        "{model}, {cores} cores available, {mem_gib:.0} GiB RAM, Linux {}",
        kernel.trim()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(group: Group, name: &str, ratio: f64) -> Row {
        let s = Summary {
            median: 1.0,
            p25: 1.0,
            p75: 1.0,
        };
        Row {
            group,
            name: name.into(),
            unit: Unit::Seconds,
            wasm: s,
            native: s,
            ratio,
            rounds: 1,
        }
    }

    #[test]
    fn rows_without_a_ratio_are_shown_as_such_and_left_out_of_chart_and_geomean() {
        let report = Report {
            rows: vec![
                row(Group::Cpu, "a", 2.0),
                row(Group::Cpu, "b", 0.5),
                row(Group::Memory, "m", f64::NAN),
            ],
            quick: true,
            seconds: 0.0,
            isolation: None,
        };
        assert_eq!(report.cpu_geomean(), Some(1.0));
        let markdown = report.markdown();
        assert!(
            markdown.contains("| m | 1.00 s | ±0% | 1.00 s | ±0% | n/a |"),
            "{markdown}"
        );
        assert!(
            markdown.contains("**geometric mean of the CPU set** | | | | | **1.00x**"),
            "{markdown}"
        );
        let svg =
            std::env::temp_dir().join(format!("bench-report-test-{}.svg", std::process::id()));
        report.write_svg(&svg).unwrap();
        let text = std::fs::read_to_string(&svg).unwrap();
        let _ = std::fs::remove_file(&svg);
        assert!(text.contains("cpu: a") && text.contains("memory: m"));
    }

    #[test]
    fn the_run_group_has_its_own_geomean_without_the_start_up_row() {
        let report = Report {
            rows: vec![
                row(Group::Cpu, "a", 4.0),
                row(Group::Run, "print(1): start-up", 10.0),
                row(Group::Run, "fib(32)", 2.0),
                row(Group::Run, "json(3200)", 0.5),
            ],
            quick: true,
            seconds: 0.0,
            isolation: None,
        };
        assert_eq!(report.run_geomean(), Some(1.0));
        assert!(
            (report.cpu_geomean().unwrap() - 4.0).abs() < 1e-9,
            "{:?}",
            report.cpu_geomean()
        );
        let markdown = report.markdown();
        assert!(
            markdown.contains("**geometric mean of the programs** | | | | | **1.00x**"),
            "{markdown}"
        );
        assert!(
            markdown.contains("### bext-lua run against the system's lua5.4"),
            "{markdown}"
        );
    }
}
