//! The isolation measures: every attack class of the project's attack suite
//! (`tests/attacks/*.lua`) on the wasm sandbox and on native mlua set up as
//! bext's tier, through the same [`Side`] interface as the other measures.
//!
//! Each attack runs in a **child process** with a wall-clock bound, on both
//! sides alike: the report binary re-executes itself with the hidden
//! subcommand [`CHILD_SUBCOMMAND`] (its `main` calls [`child_main`] first).
//! The child loads the attack script and a neighbour plugin, then for each
//! repetition prints `start <rss>`, makes the call, checks the neighbour and
//! prints `done <json>`. The parent reads those lines with a timeout, so an
//! attack that hangs the child is reported as hung after the bound (the
//! child killed), and one that kills it as crashed; neither stops the report.
//!
//! An attack is **contained** when the call ends within the bound as its
//! class requires (an error for attacks that never finish on their own, a
//! harmless body for the probes), the process survives, and the neighbour
//! plugin in the same process still answers correctly.

use crate::format::{format_bytes, format_seconds};
use crate::measure::Summary;
use crate::tiers::{
    BenchError, BenchResult, NativeSide, Plugin, PluginSpec, Side, WasmSetup, WasmSide,
};
use crate::workloads::{ContextSize, request_context};
use bext_plugin_api::middleware::RequestAction;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Command, ExitCode, ExitStatus, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

/// The hidden first argument that makes the report binary an attack child:
/// `bench-report __isolation-child <wasm|native> <class> <path> <repetitions> [<cache dir>]`.
pub const CHILD_SUBCOMMAND: &str = "__isolation-child";

/// What an attack's call must do to count as contained.
#[derive(Debug, Clone, Copy)]
pub enum Expect {
    /// End with an error: the attack never finishes on its own (loops,
    /// backtracking), so returning normally means the script caught its stop.
    Error,
    /// End either way: an error, or a result after the script caught a
    /// limit error with `pcall` (memory bombs, recursion, parser nesting,
    /// argument extremes). What must not happen is a hang or a crash.
    Ends,
    /// Return a response body that this check accepts (the probes: escapes,
    /// binary chunks); `Err` says what got through.
    Body(fn(&str) -> Result<(), String>),
}

/// The well-behaved plugin beside the attacker, in the same process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Neighbour {
    /// A counter: answers its own call count, so a lost or shared state shows.
    Counter,
    /// `cross_tenant.lua` asked for `/inspect`: its globals, library tables
    /// and string metatable must be as Lua made them.
    Inspector,
}

/// One attack: a path of an attack script.
#[derive(Debug, Clone, Copy)]
pub struct Attack {
    /// The request path that selects the attack in the script.
    pub path: &'static str,
    /// What containment means for it.
    pub expect: Expect,
}

/// One file of the attack suite.
#[derive(Debug)]
pub struct AttackClass {
    /// Short name (the child's argument, the report's anchor).
    pub key: &'static str,
    /// What the class is, for the report.
    pub title: &'static str,
    /// The file in `tests/attacks/`.
    pub file: &'static str,
    /// Its text.
    pub source: &'static str,
    /// Its attacks.
    pub attacks: &'static [Attack],
    /// Who must keep answering.
    pub neighbour: Neighbour,
}

const fn error(path: &'static str) -> Attack {
    Attack {
        path,
        expect: Expect::Error,
    }
}

const fn ends(path: &'static str) -> Attack {
    Attack {
        path,
        expect: Expect::Ends,
    }
}

/// Every class of `tests/attacks/`, in report order.
pub const ATTACK_CLASSES: &[AttackClass] = &[
    AttackClass {
        key: "infinite-loops",
        title: "infinite loops in their hiding places (pcall, xpcall handler, coroutines, __gc, gsub, sort, __close, __tostring, load)",
        file: "infinite_loops.lua",
        source: include_str!("../../tests/attacks/infinite_loops.lua"),
        attacks: &[
            error("/plain"),
            error("/pcall"),
            error("/xpcall"),
            error("/xpcall-handler"),
            error("/coroutine"),
            error("/coroutine-wrap"),
            error("/gc"),
            error("/gc-incremental"),
            error("/gsub"),
            error("/sort"),
            error("/close"),
            error("/tostring"),
            error("/load"),
        ],
        neighbour: Neighbour::Counter,
    },
    AttackClass {
        key: "memory-bombs",
        title: "memory bombs (string.rep, tables, concatenation, the collector stopped, coroutines)",
        file: "memory_bombs.lua",
        source: include_str!("../../tests/attacks/memory_bombs.lua"),
        attacks: &[
            ends("/string-rep"),
            ends("/string-rep-loop"),
            ends("/table-growth"),
            ends("/table-growth-pcall"),
            ends("/concat"),
            ends("/concat-keep"),
            ends("/gc-stop"),
            ends("/gc-stop-keep"),
            ends("/table-concat"),
            ends("/coroutine-bomb"),
        ],
        neighbour: Neighbour::Counter,
    },
    AttackClass {
        key: "backtracking",
        title: "pattern backtracking in string.find/match/gmatch/gsub",
        file: "backtracking.lua",
        source: include_str!("../../tests/attacks/backtracking.lua"),
        attacks: &[
            error("/exponential"),
            error("/nested-frontier"),
            error("/gmatch-quadratic"),
            error("/gsub-everything"),
            ends("/deep-pattern"),
        ],
        neighbour: Neighbour::Counter,
    },
    AttackClass {
        key: "deep-recursion",
        title: "deep recursion in Lua and in C (pcall, gsub, metamethods, coroutines, sort, load, __close)",
        file: "deep_recursion.lua",
        source: include_str!("../../tests/attacks/deep_recursion.lua"),
        attacks: &[ends("/lua"), ends("/lua-pcall"), ends("/c-levels")],
        neighbour: Neighbour::Counter,
    },
    AttackClass {
        key: "parser-nesting",
        title: "parser nesting (100,000 levels of 14 constructs, through load)",
        file: "parser_nesting.lua",
        source: include_str!("../../tests/attacks/parser_nesting.lua"),
        attacks: &[ends("/")],
        neighbour: Neighbour::Counter,
    },
    AttackClass {
        key: "binary-chunks",
        title: "binary chunks (a crafted chunk through load in every mode, string.dump)",
        file: "bytecode.lua",
        source: include_str!("../../tests/attacks/bytecode.lua"),
        attacks: &[Attack {
            path: "/",
            expect: Expect::Body(binary_chunks_refused),
        }],
        neighbour: Neighbour::Counter,
    },
    AttackClass {
        key: "extremes",
        title: "argument extremes (table.unpack, string.format/rep/pack/byte/char, utf8, os.date/time)",
        file: "extremes.lua",
        source: include_str!("../../tests/attacks/extremes.lua"),
        attacks: &[ends("/")],
        neighbour: Neighbour::Counter,
    },
    AttackClass {
        key: "escapes",
        title: "escapes (io, os.execute/exit/getenv/remove, require, package, debug, dofile, through _ENV, _G, load)",
        file: "escape.lua",
        source: include_str!("../../tests/attacks/escape.lua"),
        attacks: &[Attack {
            path: "/",
            expect: Expect::Body(nothing_escaped),
        }],
        neighbour: Neighbour::Counter,
    },
    AttackClass {
        key: "cross-tenant",
        title: "cross-tenant reads and writes (globals, string metatable, library tables), seen by another plugin",
        file: "cross_tenant.lua",
        source: include_str!("../../tests/attacks/cross_tenant.lua"),
        attacks: &[ends("/tamper")],
        neighbour: Neighbour::Inspector,
    },
];

/// The attack class named `key`.
pub fn attack_class(key: &str) -> Option<&'static AttackClass> {
    ATTACK_CLASSES.iter().find(|c| c.key == key)
}

/// `name=outcome` pairs of a probe script's body.
fn outcomes(body: &str) -> impl Iterator<Item = (&str, &str)> {
    body.split('|')
        .map(|line| line.split_once('=').unwrap_or((line, "")))
}

/// `bytecode.lua`: every `load` must refuse the chunk for being binary
/// before Lua's undumper (which does not verify bytecode) reads it, and no
/// way to make a chunk (`string.dump`) may be reachable.
fn binary_chunks_refused(body: &str) -> Result<(), String> {
    for (name, outcome) in outcomes(body) {
        let refused = if name.starts_with("load-") && name != "load-is-wrapped" {
            outcome.contains("binary chunk")
        } else {
            outcome.starts_with("nil")
        };
        if !refused {
            return Err(format!("{name}: {outcome}"));
        }
    }
    Ok(())
}

/// The probes of `escape.lua` that reach outside the Lua state if they find
/// anything: each must be nil or raise.
const ESCAPE_PROBES: &[&str] = &[
    "io",
    "io-open",
    "os.execute",
    "os.exit",
    "os.getenv",
    "os.remove",
    "os.rename",
    "os.tmpname",
    "os.setlocale",
    "require",
    "package",
    "package.loadlib",
    "debug",
    "debug.getregistry",
    "dofile",
    "loadfile",
    "_ENV-io",
    "_G-io",
    "rawget-io",
    "load-env-io",
    "string-metatable-io",
    "os.exit-call",
    "require-call",
];

/// `escape.lua`: nothing outside the Lua state was found.
fn nothing_escaped(body: &str) -> Result<(), String> {
    let mut seen = 0;
    for (name, outcome) in outcomes(body) {
        if ESCAPE_PROBES.contains(&name) {
            seen += 1;
            if !(outcome == "nil" || outcome.starts_with("error ")) {
                return Err(format!("{name}: {outcome}"));
            }
        }
    }
    if seen != ESCAPE_PROBES.len() {
        return Err(format!("{seen} of {} probes answered", ESCAPE_PROBES.len()));
    }
    Ok(())
}

/// What `cross_tenant.lua` reports from `/inspect` in an untouched state.
const PRISTINE: &str =
    "upper=ABC,meta=nil,index=true,concat=ab,pi=true,leak=nil,gmeta=nil,debug=nil,missing=nil";

/// The counter neighbour's script.
const COUNTER: &str = r#"local n = 0
return { on_request = function(self, ctx) n = n + 1
  return bext.middleware_respond('{"status":200,"body":"' .. n .. '"}') end }"#;

/// Which side a child runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SideKind {
    /// The sandbox with its defaults (bext's budget, fuel and deadline, 64 MiB).
    Wasm,
    /// mlua as bext's tier (count hook with the per-call budget, 64 MiB).
    Native,
}

impl SideKind {
    /// Both, in report order.
    pub const BOTH: [SideKind; 2] = [SideKind::Wasm, SideKind::Native];

    /// `wasm` or `native`.
    pub fn label(self) -> &'static str {
        match self {
            SideKind::Wasm => "wasm",
            SideKind::Native => "native",
        }
    }

    fn parse(label: &str) -> Option<SideKind> {
        SideKind::BOTH.into_iter().find(|s| s.label() == label)
    }
}

/// What the child reports after one call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallReport {
    /// The response body when the call returned one.
    pub body: Option<String>,
    /// The error the call ended with, if it did.
    pub error: Option<String>,
    /// From the call to its return.
    pub seconds: f64,
    /// Peak resident memory of the child during the call, above its
    /// resident memory just before.
    pub peak_bytes: u64,
    /// Why the neighbour's answer was wrong, if it was.
    pub neighbour_error: Option<String>,
}

/// The verdict on one attack on one side.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Every repetition was contained.
    Contained,
    /// The call ended, but not as containment requires: the reason.
    NotContained(String),
    /// No answer within the bound; the child was killed.
    Hung {
        /// The bound.
        after: Duration,
    },
    /// The child died: how.
    Crashed(String),
}

impl Verdict {
    /// Whether it was contained.
    pub fn is_contained(&self) -> bool {
        matches!(self, Verdict::Contained)
    }
}

/// The verdict on one call report: what `expect` requires, and the neighbour.
pub fn judge(expect: Expect, report: &CallReport) -> Verdict {
    if let Some(error) = &report.neighbour_error {
        return Verdict::NotContained(format!("the neighbour: {error}"));
    }
    match (expect, &report.error, &report.body) {
        (Expect::Error, None, _) => {
            Verdict::NotContained("returned normally: the script outlived its stop".into())
        }
        (Expect::Body(_), Some(error), _) => {
            Verdict::NotContained(format!("failed instead of answering: {error}"))
        }
        (Expect::Body(_), None, None) => Verdict::NotContained("answered without a body".into()),
        (Expect::Body(check), None, Some(body)) => match check(body) {
            Ok(()) => Verdict::Contained,
            Err(found) => Verdict::NotContained(found),
        },
        _ => Verdict::Contained,
    }
}

/// One attack on one side: the verdict and the figures of the calls that
/// ended.
#[derive(Debug, Clone)]
pub struct AttackResult {
    /// The attack's path.
    pub path: &'static str,
    /// Contained or how not.
    pub verdict: Verdict,
    /// Call-to-stop times of the calls that ended (a hung call has none).
    pub seconds: Vec<f64>,
    /// The largest peak memory of its calls (for a hung call, up to the kill).
    pub peak_bytes: u64,
}

/// How the isolation section runs.
#[derive(Debug, Clone)]
pub struct IsolationSettings {
    /// The binary to re-execute with [`CHILD_SUBCOMMAND`]: one whose `main`
    /// calls [`child_main`] first (the report binary).
    pub program: PathBuf,
    /// How long one call may take before it counts as hung.
    pub attack_bound: Duration,
    /// Calls per attack (in one child).
    pub repetitions: usize,
    /// Where wasm children keep the compiled guest (so only the first
    /// compiles it); `None` compiles in every child.
    pub cache_dir: Option<PathBuf>,
    /// Rounds of the noisy-neighbour load.
    pub neighbour_rounds: usize,
}

impl IsolationSettings {
    /// The report's settings: this executable, a 5 s bound and 3 calls per
    /// attack (2 s and 1 with `quick`).
    pub fn for_report(quick: bool) -> BenchResult<Self> {
        let program = std::env::current_exe()
            .map_err(|e| BenchError::Invalid(format!("cannot find this executable: {e}")))?;
        Ok(IsolationSettings {
            program,
            attack_bound: Duration::from_secs(if quick { 2 } else { 5 }),
            repetitions: if quick { 1 } else { 3 },
            cache_dir: Some(
                std::env::temp_dir().join(format!("bench-report-isolation-{}", std::process::id())),
            ),
            neighbour_rounds: if quick { 6 } else { 30 },
        })
    }
}

/// Setup of a child (runtime, plugins) may take this long before it counts
/// as broken: a debug build compiling the guest on a busy machine.
const CHILD_SETUP_BOUND: Duration = Duration::from_secs(120);

/// Runs `attack` of `class` on `side` in a child process, `settings.repetitions`
/// calls, and judges it. Hangs and crashes are verdicts; `Err` means the
/// child could not be started or could not set up (a harness bug).
pub fn run_attack(
    settings: &IsolationSettings,
    side: SideKind,
    class: &AttackClass,
    attack: &Attack,
) -> BenchResult<AttackResult> {
    let fail = |what: String| {
        BenchError::Invalid(format!(
            "isolation {} {}{}: {what}",
            side.label(),
            class.key,
            attack.path
        ))
    };
    let mut command = Command::new(&settings.program);
    command.args([
        CHILD_SUBCOMMAND,
        side.label(),
        class.key,
        attack.path,
        settings.repetitions.to_string().as_str(),
    ]);
    if let Some(dir) = &settings.cache_dir {
        command.arg(dir);
    }
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| fail(format!("cannot start {}: {e}", settings.program.display())))?;
    let pid = child.id();
    let (stdout, mut stderr) = (
        child.stdout.take().expect("piped"),
        child.stderr.take().expect("piped"),
    );
    let (lines_tx, lines) = mpsc::channel();
    let stdout_reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let stderr_reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });

    let mut result = AttackResult {
        path: attack.path,
        verdict: Verdict::Contained,
        seconds: Vec::new(),
        peak_bytes: 0,
    };
    let mut end = ChildEnd::Finished;
    for _ in 0..settings.repetitions {
        // `start <rss>` comes once the child is set up and about to call.
        let baseline = match next_message(&lines, CHILD_SETUP_BOUND) {
            Ok(line) => line
                .strip_prefix("start ")
                .and_then(|rss| rss.parse::<u64>().ok())
                .ok_or(line),
            Err(RecvTimeoutError::Timeout) => Err(format!(
                "no call within {} s of starting",
                CHILD_SETUP_BOUND.as_secs()
            )),
            Err(RecvTimeoutError::Disconnected) => {
                end = ChildEnd::Died;
                break;
            }
        };
        let baseline = match baseline {
            Ok(rss) => rss,
            Err(what) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(fail(format!("the child did not start its call: {what}")));
            }
        };
        match next_message(&lines, settings.attack_bound) {
            Ok(line) => {
                let report: Option<CallReport> = line
                    .strip_prefix("done ")
                    .and_then(|json| serde_json::from_str(json).ok());
                let Some(report) = report else {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(fail(format!("the child said {line:?}")));
                };
                result.seconds.push(report.seconds);
                result.peak_bytes = result.peak_bytes.max(report.peak_bytes);
                let verdict = judge(attack.expect, &report);
                if !verdict.is_contained() {
                    result.verdict = verdict;
                    end = ChildEnd::StoppedEarly;
                    break;
                }
            }
            Err(RecvTimeoutError::Timeout) => {
                let peak = status_bytes(&format!("/proc/{pid}/status"), "VmHWM:").unwrap_or(0);
                result.peak_bytes = result.peak_bytes.max(peak.saturating_sub(baseline));
                result.verdict = Verdict::Hung {
                    after: settings.attack_bound,
                };
                end = ChildEnd::StoppedEarly;
                break;
            }
            Err(RecvTimeoutError::Disconnected) => {
                end = ChildEnd::Died;
                break;
            }
        }
    }
    if end == ChildEnd::StoppedEarly {
        let _ = child.kill();
    }
    let status = child
        .wait()
        .map_err(|e| fail(format!("cannot wait for the child: {e}")))?;
    let _ = stdout_reader.join();
    let stderr_text = stderr_reader.join().unwrap_or_default();
    // A child that died mid-call, or failed on its way out after the last
    // call, did not survive the attack.
    if end == ChildEnd::Died || (end == ChildEnd::Finished && !status.success()) {
        let last = stderr_text
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("")
            .trim();
        result.verdict = Verdict::Crashed(describe_exit(status, last));
    }
    Ok(result)
}

/// How a child's run ended, seen from the parent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ChildEnd {
    /// Every call reported; the child exits by itself.
    Finished,
    /// The parent stops it: a call hung or was not contained.
    StoppedEarly,
    /// Its output ended before the last call reported.
    Died,
}

/// The child's next protocol line (`start ...` or `done ...`) within
/// `bound`; anything else a script printed is skipped.
fn next_message(
    lines: &mpsc::Receiver<String>,
    bound: Duration,
) -> Result<String, RecvTimeoutError> {
    let deadline = Instant::now() + bound;
    loop {
        let line = lines.recv_timeout(deadline.saturating_duration_since(Instant::now()))?;
        if line.starts_with("start ") || line.starts_with("done ") {
            return Ok(line);
        }
    }
}

/// `signal 11 (SIGSEGV)` or `exit code 3`, with the child's last words.
fn describe_exit(status: ExitStatus, last_stderr_line: &str) -> String {
    use std::os::unix::process::ExitStatusExt;
    let how = match (status.signal(), status.code()) {
        (Some(signal), _) => {
            let name = match signal {
                4 => " (SIGILL)",
                6 => " (SIGABRT)",
                7 => " (SIGBUS)",
                9 => " (SIGKILL)",
                11 => " (SIGSEGV)",
                _ => "",
            };
            format!("signal {signal}{name}")
        }
        (None, Some(code)) => format!("exit code {code}"),
        (None, None) => "unknown exit".to_string(),
    };
    let last: String = last_stderr_line.chars().take(160).collect();
    if last.is_empty() {
        how
    } else {
        format!("{how}: {last}")
    }
}

/// A `kB` field of a `/proc/.../status` file, in bytes.
fn status_bytes(path: &str, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(path).ok()?;
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix(field))?
        .trim()
        .strip_suffix("kB")?
        .trim()
        .parse::<u64>()
        .ok()?;
    Some(kb * 1024)
}

/// Resets this process's peak resident memory (`VmHWM`) to its current
/// resident memory (Linux 4.0+); without it the peak is since the start.
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// If this process was started as an attack child, runs it and returns its
/// exit code; `None` otherwise. The report binary calls this before parsing
/// its arguments.
pub fn child_main() -> Option<ExitCode> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) != Some(CHILD_SUBCOMMAND) {
        return None;
    }
    Some(match run_child(&args[1..]) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{CHILD_SUBCOMMAND}: {e}");
            ExitCode::from(3)
        }
    })
}

fn run_child(args: &[String]) -> BenchResult<()> {
    let usage = || {
        BenchError::Invalid(format!(
            "usage: {CHILD_SUBCOMMAND} wasm|native CLASS PATH REPETITIONS [CACHE_DIR]"
        ))
    };
    let [side, class, path, repetitions, rest @ ..] = args else {
        return Err(usage());
    };
    let side = SideKind::parse(side).ok_or_else(usage)?;
    let class = attack_class(class)
        .ok_or_else(|| BenchError::Invalid(format!("no attack class {class:?}")))?;
    let attack = class
        .attacks
        .iter()
        .find(|a| a.path == path.as_str())
        .ok_or_else(|| BenchError::Invalid(format!("no attack {path:?}")))?;
    let repetitions: usize = repetitions.parse().map_err(|_| usage())?;
    let cache_dir = rest.first().map(PathBuf::from);
    match side {
        SideKind::Wasm => attack_in_this_process(
            &WasmSide::with_cache(WasmSetup::default(), cache_dir)?,
            class,
            attack,
            repetitions,
        ),
        SideKind::Native => {
            attack_in_this_process(&NativeSide::default(), class, attack, repetitions)
        }
    }
}

/// The child's work: the attacker and its neighbour loaded side by side,
/// then per repetition the `start`/`done` lines around the call.
fn attack_in_this_process(
    side: &dyn Side,
    class: &AttackClass,
    attack: &Attack,
    repetitions: usize,
) -> BenchResult<()> {
    let stem = class.file.trim_end_matches(".lua");
    let attacker = side.load(&PluginSpec::new(stem, class.source, "{}"))?;
    let neighbour = match class.neighbour {
        Neighbour::Counter => side.load(&PluginSpec::new("neighbour", COUNTER, "{}"))?,
        Neighbour::Inspector => side.load(&PluginSpec::new("neighbour", class.source, "{}"))?,
    };
    let mut neighbour_calls = 0u64;
    let mut neighbour_answers = || -> Result<(), String> {
        neighbour_calls += 1;
        let (path, expected) = match class.neighbour {
            Neighbour::Counter => ("/count", neighbour_calls.to_string()),
            Neighbour::Inspector => ("/inspect", PRISTINE.to_string()),
        };
        match respond_body(&*neighbour, path) {
            Ok(Some(body)) if body == expected => Ok(()),
            Ok(Some(body)) => Err(format!("answered {body:?}, expected {expected:?}")),
            Ok(None) => Err("answered without a body".into()),
            Err(e) => Err(format!("failed: {e}")),
        }
    };
    // The neighbour works before the attack, or the measure is broken.
    neighbour_answers().map_err(BenchError::Invalid)?;
    let mut out = std::io::stdout().lock();
    let io_error =
        |e: std::io::Error| BenchError::Invalid(format!("cannot write to the parent: {e}"));
    for _ in 0..repetitions {
        reset_peak_rss();
        let baseline = status_bytes("/proc/self/status", "VmRSS:").unwrap_or(0);
        writeln!(out, "start {baseline}")
            .and_then(|()| out.flush())
            .map_err(io_error)?;
        let started = Instant::now();
        let outcome = respond_body(&*attacker, attack.path);
        let seconds = started.elapsed().as_secs_f64();
        let peak = status_bytes("/proc/self/status", "VmHWM:")
            .unwrap_or(0)
            .saturating_sub(baseline);
        let (body, error) = match outcome {
            Ok(body) => (body, None),
            Err(e) => (None, Some(e.to_string())),
        };
        let report = CallReport {
            body,
            error,
            seconds,
            peak_bytes: peak,
            neighbour_error: neighbour_answers().err(),
        };
        let json =
            serde_json::to_string(&report).map_err(|e| BenchError::Invalid(e.to_string()))?;
        writeln!(out, "done {json}")
            .and_then(|()| out.flush())
            .map_err(io_error)?;
    }
    Ok(())
}

/// `on_request` for `path`: the body if the plugin responded.
fn respond_body(plugin: &dyn Plugin, path: &str) -> BenchResult<Option<String>> {
    let mut ctx = request_context(ContextSize::Small, 0);
    ctx.path = path.into();
    Ok(match plugin.on_request(&mut ctx)? {
        RequestAction::Respond(response) => {
            Some(String::from_utf8_lossy(&response.body).into_owned())
        }
        _ => None,
    })
}

/// One attack class on both sides.
#[derive(Debug, Clone)]
pub struct ClassResult {
    /// The class.
    pub class: &'static AttackClass,
    /// Per attack, on the sandbox.
    pub wasm: Vec<AttackResult>,
    /// Per attack, on native mlua.
    pub native: Vec<AttackResult>,
}

impl ClassResult {
    fn side(&self, side: SideKind) -> &[AttackResult] {
        match side {
            SideKind::Wasm => &self.wasm,
            SideKind::Native => &self.native,
        }
    }

    /// How many attacks were contained on `side`, of how many.
    pub fn contained(&self, side: SideKind) -> (usize, usize) {
        let results = self.side(side);
        (
            results.iter().filter(|r| r.verdict.is_contained()).count(),
            results.len(),
        )
    }
}

/// Runs every attack of `class` on both sides, alternating the side that
/// goes first.
pub fn run_class(
    settings: &IsolationSettings,
    class: &'static AttackClass,
) -> BenchResult<ClassResult> {
    let mut result = ClassResult {
        class,
        wasm: Vec::new(),
        native: Vec::new(),
    };
    for (i, attack) in class.attacks.iter().enumerate() {
        let order = if i % 2 == 0 {
            SideKind::BOTH
        } else {
            [SideKind::Native, SideKind::Wasm]
        };
        for side in order {
            let outcome = run_attack(settings, side, class, attack)?;
            match side {
                SideKind::Wasm => result.wasm.push(outcome),
                SideKind::Native => result.native.push(outcome),
            }
        }
    }
    Ok(result)
}

/// The whole section: every attack class, then the noisy-neighbour load.
#[derive(Debug, Clone)]
pub struct IsolationSection {
    /// Per class.
    pub classes: Vec<ClassResult>,
    /// The noisy-neighbour rows.
    pub neighbours: Vec<crate::noisy::NeighbourRow>,
    /// The hang bound used.
    pub attack_bound: Duration,
    /// Calls per attack.
    pub repetitions: usize,
}

/// Runs the section, calling `progress` with a line per class and row.
pub fn run(
    settings: &IsolationSettings,
    progress: &mut dyn FnMut(String),
) -> BenchResult<IsolationSection> {
    if let Some(dir) = &settings.cache_dir {
        std::fs::create_dir_all(dir)
            .map_err(|e| BenchError::Invalid(format!("cannot create {}: {e}", dir.display())))?;
    }
    let mut classes = Vec::new();
    let attacks = (|| -> BenchResult<()> {
        for class in ATTACK_CLASSES {
            let result = run_class(settings, class)?;
            let ((w, n), (nw, _)) = (
                result.contained(SideKind::Wasm),
                result.contained(SideKind::Native),
            );
            progress(format!(
                "{:<16} contained: wasm {w}/{n}, native {nw}/{n}",
                class.key
            ));
            classes.push(result);
        }
        Ok(())
    })();
    if let Some(dir) = &settings.cache_dir {
        let _ = std::fs::remove_dir_all(dir);
    }
    attacks?;
    let neighbours = crate::noisy::rows(settings.neighbour_rounds, &mut *progress)?;
    Ok(IsolationSection {
        classes,
        neighbours,
        attack_bound: settings.attack_bound,
        repetitions: settings.repetitions,
    })
}

/// The report anchor of a class's row.
pub fn anchor(class: &AttackClass) -> String {
    format!("isolation-{}", class.key)
}

impl IsolationSection {
    /// Attack classes fully contained on `side`, of how many.
    pub fn classes_contained(&self, side: SideKind) -> (usize, usize) {
        let contained = self.classes.iter().filter(|c| {
            let (ok, all) = c.contained(side);
            ok == all
        });
        (contained.count(), self.classes.len())
    }

    /// The tables and what did not hold, as markdown.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "### Isolation: the attack suite on both sides\n");
        let _ = writeln!(
            out,
            "| attack class | attacks | wasm contained | wasm time to stop | wasm peak memory | native contained | native time to stop | native peak memory |"
        );
        let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|");
        for class in &self.classes {
            let mut cells = String::new();
            for side in SideKind::BOTH {
                let (ok, all) = class.contained(side);
                let results = class.side(side);
                let contained = if ok == all {
                    format!("**{ok}/{all}**")
                } else {
                    format!("{ok}/{all}")
                };
                let times: Vec<f64> = results
                    .iter()
                    .flat_map(|r| r.seconds.iter().copied())
                    .collect();
                let time = if times.is_empty() {
                    "-".to_string()
                } else {
                    format_seconds(Summary::of(&times).median)
                };
                let peak = results.iter().map(|r| r.peak_bytes).max().unwrap_or(0) as f64;
                let _ = write!(cells, " {contained} | {time} | {} |", format_bytes(peak));
            }
            let _ = writeln!(
                out,
                "| <a id=\"{}\"></a>{} (`{}`) | {} |{cells}",
                anchor(class.class),
                class.class.key,
                class.class.file,
                class.class.attacks.len()
            );
        }
        let (wasm_ok, all) = self.classes_contained(SideKind::Wasm);
        let (native_ok, _) = self.classes_contained(SideKind::Native);
        let _ = writeln!(
            out,
            "| **classes fully contained** | | **{wasm_ok}/{all}** | | | **{native_ok}/{all}** | | |\n"
        );

        let failures: Vec<String> = self
            .classes
            .iter()
            .flat_map(|c| {
                SideKind::BOTH
                    .into_iter()
                    .flat_map(move |side| c.side(side).iter().map(move |r| (c, side, r)))
            })
            .filter_map(|(c, side, r)| {
                let what = match &r.verdict {
                    Verdict::Contained => return None,
                    Verdict::Hung { after } => {
                        format!("hung after {} s (killed)", after.as_secs_f64())
                    }
                    Verdict::Crashed(how) => format!("crashed: {how}"),
                    Verdict::NotContained(why) => format!("not contained: {}", truncate(why, 200)),
                };
                Some(format!(
                    "* {} `{}{}`: {what}",
                    side.label(),
                    c.class.key,
                    r.path
                ))
            })
            .collect();
        if !failures.is_empty() {
            let _ = writeln!(out, "Not contained:\n\n{}\n", failures.join("\n"));
        }
        let _ = writeln!(
            out,
            "Each attack runs in its own child process (`bench-report {CHILD_SUBCOMMAND} ...`), on both sides alike, \
{} call{} per attack, each bounded by {} s of wall clock. **Contained**: the call ends within the bound (with an \
error for attacks that never finish on their own: loops, backtracking; either way for the others, where a caught \
\"not enough memory\" is the limit working; with a body showing nothing got through for the probes: escapes, binary \
chunks), the process survives, and a neighbour plugin in the same process answers correctly afterwards (a counter \
of its own calls; for cross-tenant, a second copy of the script whose view of globals, library tables and the \
string metatable must be untouched). **Time to stop**: median from the call to its return, over the calls that \
ended. **Peak memory**: the largest rise of the child's resident memory during one call (`VmHWM` reset before each \
call; for a hung call, up to the kill). Both sides run bext's budget: wasm its defaults (fuel for 200 x 1000 \
instructions, a 1 s deadline, 64 MiB); native a count hook every 1000 instructions with 200 ticks per call and a \
64 MiB limit, each plugin in its own Lua state.\n",
            self.repetitions,
            if self.repetitions == 1 { "" } else { "s" },
            self.attack_bound.as_secs_f64(),
        );
        out.push_str(&crate::noisy::markdown(&self.neighbours));
        out
    }
}

fn truncate(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        text.to_string()
    } else {
        format!("{}...", text.chars().take(max_chars).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(error: Option<&str>, body: Option<&str>) -> CallReport {
        CallReport {
            body: body.map(Into::into),
            error: error.map(Into::into),
            seconds: 0.01,
            peak_bytes: 0,
            neighbour_error: None,
        }
    }

    #[test]
    fn an_attack_that_must_fail_is_contained_only_by_an_error() {
        assert_eq!(
            judge(Expect::Error, &report(Some("out of fuel"), None)),
            Verdict::Contained
        );
        assert!(matches!(
            judge(Expect::Error, &report(None, None)),
            Verdict::NotContained(_)
        ));
        assert_eq!(
            judge(Expect::Ends, &report(None, Some("false not enough memory"))),
            Verdict::Contained
        );
    }

    #[test]
    fn a_wrong_neighbour_answer_is_not_contained() {
        let mut r = report(Some("out of fuel"), None);
        r.neighbour_error = Some("answered \"1\", expected \"2\"".into());
        assert!(
            matches!(judge(Expect::Error, &r), Verdict::NotContained(why) if why.contains("neighbour"))
        );
    }

    #[test]
    fn probe_checks_tell_refused_from_reached() {
        let refused = "load-mode-b=raised x: load: binary chunks are not allowed in the sandbox|\
                       load-default-mode=nil attempt to load a binary chunk (mode is 't')|string-dump=nil nil";
        assert_eq!(binary_chunks_refused(refused), Ok(()));
        let undumped =
            "load-default-mode=nil x: bad binary format (truncated chunk)|string-dump=nil nil";
        assert!(
            binary_chunks_refused(undumped)
                .unwrap_err()
                .starts_with("load-default-mode")
        );
        assert!(binary_chunks_refused("load-mode-b=LOADED function").is_err());
        let all_nil: String = ESCAPE_PROBES
            .iter()
            .map(|p| format!("{p}=nil"))
            .collect::<Vec<_>>()
            .join("|");
        assert_eq!(nothing_escaped(&all_nil), Ok(()));
        assert!(nothing_escaped(&all_nil.replace("os.getenv=nil", "os.getenv=function")).is_err());
        assert!(nothing_escaped("io=nil").is_err(), "missing probes");
        assert!(matches!(
            judge(Expect::Body(nothing_escaped), &report(None, Some(&all_nil))),
            Verdict::Contained
        ));
    }

    #[test]
    fn exits_are_described_by_signal_or_code() {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(
            describe_exit(ExitStatus::from_raw(11), ""),
            "signal 11 (SIGSEGV)"
        );
        assert_eq!(
            describe_exit(ExitStatus::from_raw(3 << 8), "boom"),
            "exit code 3: boom"
        );
    }

    #[test]
    fn every_attack_class_has_a_distinct_key_and_its_paths_are_in_its_script() {
        for class in ATTACK_CLASSES {
            assert_eq!(
                ATTACK_CLASSES.iter().filter(|c| c.key == class.key).count(),
                1
            );
            for attack in class.attacks {
                assert!(
                    attack.path == "/" || class.source.contains(&format!("\"{}\"", attack.path)),
                    "{}{}",
                    class.key,
                    attack.path
                );
            }
        }
    }

    #[test]
    fn the_section_shows_counts_hangs_and_anchors() {
        let class = attack_class("backtracking").unwrap();
        let result = |verdict, seconds: &[f64]| AttackResult {
            path: "/exponential",
            verdict,
            seconds: seconds.to_vec(),
            peak_bytes: 2 << 20,
        };
        let section = IsolationSection {
            classes: vec![ClassResult {
                class,
                wasm: vec![result(Verdict::Contained, &[0.002, 0.004, 0.003])],
                native: vec![result(
                    Verdict::Hung {
                        after: Duration::from_secs(5),
                    },
                    &[],
                )],
            }],
            neighbours: Vec::new(),
            attack_bound: Duration::from_secs(5),
            repetitions: 3,
        };
        let markdown = section.markdown();
        let row = "| <a id=\"isolation-backtracking\"></a>backtracking (`backtracking.lua`) | 5 | **1/1** | 3.00 ms | 2.00 MiB | 0/1 | - | 2.00 MiB |";
        assert!(markdown.contains(row), "{markdown}");
        assert!(
            markdown.contains("* native `backtracking/exponential`: hung after 5 s (killed)"),
            "{markdown}"
        );
        assert!(
            markdown.contains("| **classes fully contained** | | **1/1** | | | **0/1** | | |"),
            "{markdown}"
        );
    }
}
