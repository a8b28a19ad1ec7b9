//! Per-call latency as a histogram with power-of-two buckets: one relaxed
//! atomic increment per call, percentiles read from a snapshot.

use serde::Serialize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Buckets of [`LatencyHistogram`]: the last starts at 2^22 µs (about 4.2 s).
pub const LATENCY_BUCKETS: usize = 24;

/// How long a plugin's calls took inside their sandbox (from entering the
/// guest to its answer, not the wait for a sandbox), as counts per
/// power-of-two bucket of microseconds.
///
/// `buckets_us[0]` counts calls under 1 µs, `buckets_us[i]` (for `i >= 1`)
/// calls from 2^(i-1) µs up to 2^i µs, and the last bucket everything from
/// 2^22 µs (about 4.2 s) up. Percentiles are read as the upper edge of the
/// bucket they fall in, so they overstate by less than 2x.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct LatencyHistogram {
    /// Calls per bucket (see the type's docs for the edges).
    pub buckets_us: [u64; LATENCY_BUCKETS],
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        LatencyHistogram {
            buckets_us: [0; LATENCY_BUCKETS],
        }
    }
}

impl LatencyHistogram {
    /// Calls recorded.
    pub fn count(&self) -> u64 {
        self.buckets_us.iter().sum()
    }

    /// The latency under which a share `quantile` (0.0 to 1.0, e.g. 0.99) of
    /// the calls finished: the upper edge of the bucket holding it (for the
    /// last, open bucket its lower edge). `None` before the first call.
    pub fn quantile(&self, quantile: f64) -> Option<Duration> {
        let count = self.count();
        if count == 0 {
            return None;
        }
        // The rank of the call at `quantile`, 1-based, at least the first.
        let rank = ((quantile.clamp(0.0, 1.0) * count as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, n) in self.buckets_us.iter().enumerate() {
            seen += n;
            if seen >= rank {
                let edge_exp = if i == LATENCY_BUCKETS - 1 { i - 1 } else { i };
                return Some(Duration::from_micros(1 << edge_exp));
            }
        }
        None
    }
}

/// The recording side of a [`LatencyHistogram`].
#[derive(Debug, Default)]
pub(crate) struct LatencyRecorder {
    buckets: [AtomicU64; LATENCY_BUCKETS],
}

impl LatencyRecorder {
    pub(crate) fn record(&self, elapsed: Duration) {
        self.buckets[bucket(elapsed)].fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> LatencyHistogram {
        LatencyHistogram {
            buckets_us: std::array::from_fn(|i| self.buckets[i].load(Ordering::Relaxed)),
        }
    }
}

/// The bucket of `elapsed`: 0 under 1 µs, else 1 + floor(log2(µs)), capped.
fn bucket(elapsed: Duration) -> usize {
    let us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
    if us == 0 {
        0
    } else {
        (1 + us.ilog2() as usize).min(LATENCY_BUCKETS - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_powers_of_two_of_microseconds() {
        assert_eq!(bucket(Duration::from_nanos(999)), 0);
        assert_eq!(bucket(Duration::from_micros(1)), 1);
        assert_eq!(bucket(Duration::from_micros(3)), 2);
        assert_eq!(bucket(Duration::from_micros(4)), 3);
        assert_eq!(bucket(Duration::from_millis(1)), 10);
        assert_eq!(bucket(Duration::from_secs(3600)), LATENCY_BUCKETS - 1);
    }

    #[test]
    fn quantiles_read_the_upper_edge_of_their_bucket() {
        let recorder = LatencyRecorder::default();
        assert_eq!(recorder.snapshot().quantile(0.5), None);
        for _ in 0..98 {
            recorder.record(Duration::from_micros(10)); // bucket [8, 16)
        }
        recorder.record(Duration::from_millis(3)); // bucket [2048, 4096)
        recorder.record(Duration::from_secs(100)); // the open last bucket
        let histogram = recorder.snapshot();
        assert_eq!(histogram.count(), 100);
        assert_eq!(histogram.quantile(0.0), Some(Duration::from_micros(16)));
        assert_eq!(histogram.quantile(0.5), Some(Duration::from_micros(16)));
        assert_eq!(histogram.quantile(0.99), Some(Duration::from_micros(4096)));
        assert_eq!(
            histogram.quantile(1.0),
            Some(Duration::from_micros(1 << 22))
        );
    }
}
