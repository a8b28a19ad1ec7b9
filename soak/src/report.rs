//! What the soak saw, minute by minute, and its verdict.

use crate::tenants;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How one response turned out.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The good tenant's chain ran (both plugins' marks are there).
    Good,
    /// The reload tenant answered with this version of its script.
    Reload(u64),
    /// The reload tenant answered with a version that does not compile.
    BrokenServed(u64),
    /// A misbehaving tenant answered with this status.
    Contained(u16),
    /// A good tenant's request failed, and why.
    Failed(String),
}

/// One sample of the gateway process.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub rss_bytes: u64,
    pub fds: u64,
    pub threads: u64,
    pub arena_bytes: u64,
}

#[derive(Default)]
struct Minute {
    good: u64,
    failed: u64,
    latencies_us: Vec<u64>,
    newest_version: u64,
    contained: BTreeMap<u16, u64>,
    last_sample: Option<Sample>,
    faults: Vec<&'static str>,
}

#[derive(Default)]
struct State {
    minutes: Vec<Minute>,
    failures: Vec<String>,
    failed: u64,
    broken_served: BTreeSet<u64>,
    problems: Vec<String>,
    versions_written: BTreeSet<u64>,
    rewrites_failed: u64,
    versions_served: BTreeSet<u64>,
    samples: Vec<(Duration, Sample)>,
}

/// Everything the soak's tasks report, shared between them.
pub struct Record {
    started: Instant,
    duration: Duration,
    state: Mutex<State>,
}

/// The first failures are kept with their reason; the rest are counted.
const FAILURES_KEPT: usize = 20;

impl Record {
    /// A record of a run of `minutes` from `started`.
    pub fn new(started: Instant, minutes: u64) -> Record {
        let state = State {
            minutes: (0..minutes).map(|_| Minute::default()).collect(),
            ..State::default()
        };
        Record {
            started,
            duration: Duration::from_secs(minutes * 60),
            state: Mutex::new(state),
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut State, usize, Duration) -> R) -> R {
        let elapsed = self.started.elapsed();
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let minute = ((elapsed.as_secs() / 60) as usize).min(state.minutes.len() - 1);
        f(&mut state, minute, elapsed)
    }

    /// One response of `host`, `latency` after its request was sent.
    pub fn response(&self, host: &str, outcome: Outcome, latency: Duration) {
        self.with(|state, m, elapsed| {
            let good = |state: &mut State| {
                state.minutes[m].good += 1;
                state.minutes[m]
                    .latencies_us
                    .push(latency.as_micros() as u64);
            };
            match outcome {
                Outcome::Good => good(state),
                Outcome::Reload(n) => {
                    good(state);
                    state.versions_served.insert(n);
                    let newest = &mut state.minutes[m].newest_version;
                    *newest = (*newest).max(n);
                }
                Outcome::BrokenServed(n) => {
                    state.broken_served.insert(n);
                }
                Outcome::Contained(status) => {
                    *state.minutes[m].contained.entry(status).or_default() += 1;
                    if status == 200 {
                        state
                            .problems
                            .push(format!("{host} answered 200: its plugin must never finish"));
                    }
                }
                Outcome::Failed(why) => {
                    state.minutes[m].failed += 1;
                    state.failed += 1;
                    if state.failures.len() < FAILURES_KEPT {
                        state
                            .failures
                            .push(format!("at {:.1} s: {why}", elapsed.as_secs_f64()));
                    }
                }
            }
        })
    }

    /// Version `n` of the reload tenant's script was written (or not).
    pub fn rewrite(&self, n: u64, written: bool) {
        self.with(|state, _, _| {
            if !written {
                state.rewrites_failed += 1;
            } else if !tenants::is_broken(n) {
                state.versions_written.insert(n);
            }
        })
    }

    /// A fault was injected.
    pub fn fault(&self, what: &'static str) {
        println!(
            "soak: {:>6.1} s {what}",
            self.started.elapsed().as_secs_f64()
        );
        self.with(|state, m, _| state.minutes[m].faults.push(what))
    }

    /// Something went wrong that is not a response (a store that would not
    /// restart, a gateway that could not be sampled).
    pub fn problem(&self, what: String) {
        self.with(|state, _, elapsed| {
            if state.problems.len() < FAILURES_KEPT {
                state
                    .problems
                    .push(format!("at {:.1} s: {what}", elapsed.as_secs_f64()));
            }
        })
    }

    /// One sample of the gateway process.
    pub fn sample(&self, sample: Sample) {
        self.with(|state, m, elapsed| {
            state.minutes[m].last_sample = Some(sample);
            state.samples.push((elapsed, sample));
        })
    }

    /// The per-minute table (Markdown).
    pub fn table(&self) -> String {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = String::from(
            "| minute | good requests | failed | p50 ms | p99 ms | reload version | loop + hog answers | RSS MiB | descriptors | threads | arena KiB | faults |\n\
             |---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---|\n",
        );
        for (i, minute) in state.minutes.iter().enumerate() {
            let mut latencies = minute.latencies_us.clone();
            latencies.sort_unstable();
            let contained: Vec<String> = minute
                .contained
                .iter()
                .map(|(status, n)| format!("{status}: {n}"))
                .collect();
            let (rss, fds, threads, arena) = minute.last_sample.map_or_else(
                || ("-".into(), "-".into(), "-".into(), "-".into()),
                |s| {
                    (
                        format!("{:.1}", s.rss_bytes as f64 / 1048576.0),
                        s.fds.to_string(),
                        s.threads.to_string(),
                        (s.arena_bytes / 1024).to_string(),
                    )
                },
            );
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {rss} | {fds} | {threads} | {arena} | {} |",
                i + 1,
                minute.good,
                minute.failed,
                percentile_ms(&latencies, 50),
                percentile_ms(&latencies, 99),
                minute.newest_version,
                contained.join(", "),
                minute.faults.join(", "),
            );
        }
        out
    }

    /// What the run proves, or the faults it found.
    pub fn verdict(&self) -> Verdict {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let mut problems = state.problems.clone();
        if state.failed > 0 {
            problems.push(format!(
                "{} good requests failed; the first: {}",
                state.failed,
                state.failures.join("; ")
            ));
        }
        if !state.broken_served.is_empty() {
            problems.push(format!("broken versions served: {:?}", state.broken_served));
        }
        let served = state
            .versions_written
            .intersection(&state.versions_served)
            .count();
        if served * 2 < state.versions_written.len() {
            problems.push(format!(
                "only {served} of the {} good versions written were seen serving",
                state.versions_written.len()
            ));
        }
        problems.extend(growth(&state.samples, self.duration));
        let good: u64 = state.minutes.iter().map(|m| m.good).sum();
        let mut latencies: Vec<u64> = state
            .minutes
            .iter()
            .flat_map(|m| m.latencies_us.iter().copied())
            .collect();
        latencies.sort_unstable();
        let faults: usize = state.minutes.iter().map(|m| m.faults.len()).sum();
        let summary = format!(
            "{good} good requests (p50 {} ms, p99 {} ms), {} failed; {} versions written \
             ({} writes failed while etcd was down), {served} seen serving, {} broken served; \
             {faults} store faults; {} samples",
            percentile_ms(&latencies, 50),
            percentile_ms(&latencies, 99),
            state.failed,
            state.versions_written.len(),
            state.rewrites_failed,
            state.broken_served.len(),
            state.samples.len(),
        );
        Verdict { summary, problems }
    }
}

/// The growth rule. The first quarter of the run is warm-up (pools fill,
/// templates and connections are made); the second quarter sets the
/// baseline (its highest sample); the last quarter's median must stay
/// within 10% (+4 MiB) of the baseline for RSS, 10% (+1 MiB) for the
/// template arena, and within 8 descriptors and 4 threads: a store's
/// reconnection may hold a socket or a thread for a while, a leak per
/// request, rewrite or outage grows without bound.
fn growth(samples: &[(Duration, Sample)], duration: Duration) -> Vec<String> {
    let in_range = |from: f64, to: f64| -> Vec<Sample> {
        samples
            .iter()
            .filter(|(t, _)| {
                let at = t.as_secs_f64() / duration.as_secs_f64();
                (from..to).contains(&at)
            })
            .map(|(_, s)| *s)
            .collect()
    };
    let (baseline, late) = (in_range(0.25, 0.5), in_range(0.75, 1.01));
    if baseline.is_empty() || late.is_empty() {
        return vec!["too few samples to judge growth".into()];
    }
    let checks = [
        Allowance {
            what: "RSS",
            value: |s| s.rss_bytes,
            factor: 1.10,
            slack: 4 << 20,
        },
        Allowance {
            what: "template arena",
            value: |s| s.arena_bytes,
            factor: 1.10,
            slack: 1 << 20,
        },
        Allowance {
            what: "open descriptors",
            value: |s| s.fds,
            factor: 1.0,
            slack: 8,
        },
        Allowance {
            what: "threads",
            value: |s| s.threads,
            factor: 1.0,
            slack: 4,
        },
    ];
    let mut problems = Vec::new();
    for Allowance {
        what,
        value,
        factor,
        slack,
    } in checks
    {
        let high = baseline.iter().map(value).max().unwrap_or(0);
        let mut tail: Vec<u64> = late.iter().map(value).collect();
        tail.sort_unstable();
        let median = tail[tail.len() / 2];
        let bound = (high as f64 * factor) as u64 + slack;
        if median > bound {
            problems.push(format!(
                "{what} grew: the last quarter's median {median} is above {bound} \
                 (the second quarter's highest, {high}, plus the allowance)"
            ));
        }
    }
    problems
}

/// How far one measure of the process may grow past its baseline.
struct Allowance {
    what: &'static str,
    value: fn(&Sample) -> u64,
    factor: f64,
    slack: u64,
}

/// The `p`th percentile of sorted microseconds, in milliseconds.
fn percentile_ms(sorted_us: &[u64], p: usize) -> String {
    if sorted_us.is_empty() {
        return "-".into();
    }
    let i = ((sorted_us.len() - 1) * p).div_ceil(100);
    format!("{:.2}", sorted_us[i] as f64 / 1000.0)
}

/// The soak's verdict.
pub struct Verdict {
    summary: String,
    problems: Vec<String>,
}

impl Verdict {
    /// No fault found.
    pub fn passed(&self) -> bool {
        self.problems.is_empty()
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.passed() {
            return write!(f, "soak: PASSED: {}", self.summary);
        }
        writeln!(f, "soak: FAILED: {}", self.summary)?;
        for problem in &self.problems {
            writeln!(f, "  - {problem}")?;
        }
        Ok(())
    }
}
