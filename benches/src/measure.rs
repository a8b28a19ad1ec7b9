//! The measures shared by the criterion benches and the report: timing a
//! batch of calls, memory per live instance, throughput across threads, and
//! the statistics of interleaved samples.

use crate::tiers::{BenchError, BenchResult, PluginSpec, Side};
use crate::workloads::{ContextSize, request_context};
use std::sync::Barrier;
use std::time::Instant;

/// Seconds per operation of `ops` operations run by `batch`.
pub fn seconds_per_op(ops: u64, batch: impl FnOnce(u64) -> BenchResult<()>) -> BenchResult<f64> {
    let started = Instant::now();
    batch(ops)?;
    Ok(started.elapsed().as_secs_f64() / ops.max(1) as f64)
}

/// The fields of `/proc/self/smaps_rollup` (Linux 4.14+) named by
/// `fields`, in bytes, from one read of the file (one consistent snapshot).
fn smaps_rollup_bytes<const N: usize>(fields: [&str; N]) -> BenchResult<[u64; N]> {
    let rollup = std::fs::read_to_string("/proc/self/smaps_rollup")
        .map_err(|e| BenchError::Invalid(format!("cannot read /proc/self/smaps_rollup: {e}")))?;
    let mut values = [0; N];
    for (field, value) in fields.iter().zip(&mut values) {
        *value = rollup
            .lines()
            .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|rest| rest.trim().strip_suffix("kB"))
            .and_then(|kb| kb.trim().parse::<u64>().ok())
            .map(|kb| kb * 1024)
            .ok_or_else(|| {
                BenchError::Invalid(format!("no {field} line in /proc/self/smaps_rollup"))
            })?;
    }
    Ok(values)
}

/// The memory this process holds, in bytes: its proportional set size
/// (PSS), with shared memory counted as the fork templates' arena, once.
/// PSS counts a page of shared memory only where it is mapped, so template
/// pages that no sandbox maps (idle plugins) or that every sandbox has
/// copied would go uncounted; the rest of the process's shared memory
/// (wasmtime's image of the compiled guest) does not grow with plugins.
pub fn memory_bytes() -> BenchResult<u64> {
    let [pss, shared] = smaps_rollup_bytes(["Pss", "Pss_Shmem"])?;
    Ok(pss - shared + bext_plugin_lua_wasm::fork_template_arena_bytes())
}

/// Hands the allocator's free pages back to the OS, so a memory measure is
/// not flattered by memory an earlier one freed (glibc keeps it otherwise).
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        unsafe extern "C" {
            fn malloc_trim(pad: usize) -> i32;
        }
        // SAFETY: malloc_trim only walks glibc's own free lists.
        unsafe {
            malloc_trim(0);
        }
    }
}

/// PSS bytes per live instance: `instances` instances spread evenly over
/// `specs` (each plugin loaded, then held with its share of instances, each
/// having served one request), the plugins' own memory included.
pub fn pss_per_instance(
    side: &dyn Side,
    specs: &[PluginSpec],
    instances: usize,
) -> BenchResult<f64> {
    let per_plugin = instances / specs.len();
    if per_plugin == 0 || per_plugin * specs.len() != instances {
        return Err(BenchError::Invalid(format!(
            "{instances} instances do not spread evenly over {} plugins",
            specs.len()
        )));
    }
    release_free_memory();
    let before = memory_bytes()?;
    let ctx = request_context(ContextSize::Small, 0);
    let mut plugins = Vec::with_capacity(specs.len());
    let mut held = Vec::with_capacity(specs.len());
    for spec in specs {
        let plugin = side.load(spec)?;
        held.push(plugin.live_instances(per_plugin, &ctx)?);
        plugins.push(plugin);
    }
    let after = memory_bytes()?;
    drop(held);
    drop(plugins);
    Ok(after.saturating_sub(before) as f64 / instances as f64)
}

/// Wall-clock seconds per `on_request` with `threads` threads each making
/// `calls_per_thread` calls (small context), rotating over `specs`. Setup
/// (native threads load their own states) and one warm-up call per plugin
/// and thread are outside the timing; for the wasm side, give each plugin's
/// pool `threads` ready sandboxes so no call pays a cold start.
pub fn seconds_per_call_across_threads(
    side: &dyn Side,
    specs: &[PluginSpec],
    threads: usize,
    calls_per_thread: usize,
) -> BenchResult<f64> {
    let factory = side.per_thread(specs)?;
    let start_line = Barrier::new(threads);
    // Each worker times itself: the spawning thread may be descheduled when
    // the barrier opens, so its own clock would start late.
    let spans = std::thread::scope(|scope| -> BenchResult<Vec<(Instant, Instant)>> {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let (factory, start_line) = (&factory, &start_line);
                scope.spawn(move || -> BenchResult<(Instant, Instant)> {
                    let plugins = factory().and_then(|plugins| {
                        for (i, plugin) in plugins.iter().enumerate() {
                            plugin.on_request(&mut request_context(ContextSize::Small, i))?;
                        }
                        Ok(plugins)
                    });
                    start_line.wait();
                    let started = Instant::now();
                    let plugins = plugins?;
                    for i in 0..calls_per_thread {
                        let mut ctx = request_context(ContextSize::Small, i * threads + t);
                        plugins[(i + t) % plugins.len()].on_request(&mut ctx)?;
                    }
                    Ok((started, Instant::now()))
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|worker| {
                worker
                    .join()
                    .map_err(|_| BenchError::Invalid("a benchmark thread panicked".into()))?
            })
            .collect()
    })?;
    let first_start = spans
        .iter()
        .map(|s| s.0)
        .min()
        .expect("at least one thread");
    let last_end = spans
        .iter()
        .map(|s| s.1)
        .max()
        .expect("at least one thread");
    let wall = last_end - first_start;
    Ok(wall.as_secs_f64() / (threads * calls_per_thread) as f64)
}

/// Median and quartiles of a set of samples.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    /// The median.
    pub median: f64,
    /// First quartile.
    pub p25: f64,
    /// Third quartile.
    pub p75: f64,
}

impl Summary {
    /// The summary of `samples` (at least one).
    pub fn of(samples: &[f64]) -> Summary {
        let mut sorted = samples.to_vec();
        sorted.sort_by(f64::total_cmp);
        let at = |q: f64| sorted[((sorted.len() - 1) as f64 * q).round() as usize];
        Summary {
            median: at(0.5),
            p25: at(0.25),
            p75: at(0.75),
        }
    }

    /// Interquartile range as a percentage of the median.
    pub fn spread_percent(&self) -> f64 {
        if self.median == 0.0 {
            0.0
        } else {
            (self.p75 - self.p25) / self.median * 100.0
        }
    }
}

/// Paired samples of both sides, taken A B, B A, A B, ... so that drift of
/// the machine (frequency, other load) hits both alike.
#[derive(Debug, Clone, Default)]
pub struct Interleaved {
    /// Samples of the wasm side.
    pub wasm: Vec<f64>,
    /// Samples of the native side, same rounds.
    pub native: Vec<f64>,
}

impl Interleaved {
    /// `rounds` recorded rounds after `warmup` unrecorded ones.
    pub fn run(
        rounds: usize,
        warmup: usize,
        mut wasm: impl FnMut() -> BenchResult<f64>,
        mut native: impl FnMut() -> BenchResult<f64>,
    ) -> BenchResult<Interleaved> {
        let mut samples = Interleaved::default();
        for round in 0..warmup + rounds {
            let (w, n) = if round % 2 == 0 {
                let w = wasm()?;
                (w, native()?)
            } else {
                let n = native()?;
                (wasm()?, n)
            };
            if round >= warmup {
                samples.wasm.push(w);
                samples.native.push(n);
            }
        }
        Ok(samples)
    }

    /// The median of the per-round ratios wasm/native: each round's pair
    /// saw the same machine state. Rounds where native measured zero (a
    /// memory measure that grew by less than a page) have no ratio; NaN if
    /// no round has one.
    pub fn ratio(&self) -> f64 {
        let ratios: Vec<f64> = self
            .wasm
            .iter()
            .zip(&self.native)
            .filter(|(_, n)| **n > 0.0)
            .map(|(w, n)| w / n)
            .collect();
        if ratios.is_empty() {
            f64::NAN
        } else {
            Summary::of(&ratios).median
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_takes_median_and_quartiles() {
        let s = Summary::of(&[5.0, 1.0, 3.0, 2.0, 4.0]);
        assert_eq!((s.p25, s.median, s.p75), (2.0, 3.0, 4.0));
        assert_eq!(s.spread_percent(), 2.0 / 3.0 * 100.0);
    }

    #[test]
    fn interleaving_alternates_the_order_and_pairs_rounds() {
        let order = std::cell::RefCell::new(String::new());
        let samples = Interleaved::run(
            3,
            1,
            || {
                order.borrow_mut().push('A');
                Ok(2.0)
            },
            || {
                order.borrow_mut().push('B');
                Ok(1.0)
            },
        )
        .unwrap();
        assert_eq!(order.into_inner(), "ABBAABBA");
        assert_eq!(samples.wasm.len(), 3);
        assert_eq!(samples.ratio(), 2.0);
    }

    #[test]
    fn rounds_without_a_native_figure_have_no_ratio() {
        let samples = Interleaved {
            wasm: vec![4.0, 6.0, 8.0, 9.0],
            native: vec![0.0, 2.0, 2.0, 3.0],
        };
        assert_eq!(samples.ratio(), 3.0);
        assert!(
            Interleaved {
                wasm: vec![1.0],
                native: vec![0.0]
            }
            .ratio()
            .is_nan()
        );
    }

    #[test]
    fn memory_is_readable_and_grows_with_touched_memory() {
        let before = memory_bytes().unwrap();
        let block = vec![1u8; 32 << 20];
        let after = memory_bytes().unwrap();
        assert!(after >= before + (24 << 20), "{before} -> {after}");
        drop(block);
    }
}
