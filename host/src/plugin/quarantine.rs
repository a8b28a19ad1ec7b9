//! Quarantine: a plugin whose calls keep trapping must not make the server
//! spin on it, even when good calls are mixed in or callers pile up.
//!
//! The rule (documented for users on
//! [`quarantine_after_traps`](crate::LuaSandboxLimits::quarantine_after_traps)):
//!
//! * Every call the quarantine lets through records one outcome in a window
//!   of the plugin's last [`quarantine_window_calls`] outcomes. An outcome is
//!   *failed* when the call trapped (each trap costs a full budget, up to
//!   [`timeout_ms`] of a worker, and a new instance), or when it got
//!   [`Error::PoolTimeout`] while the window already holds a trap: every
//!   sandbox stayed busy with the plugin's own calls, which trap, so the
//!   waiter failed because of them. A pool timeout with no trap in the
//!   window (a plugin merely busy) is counted as a success.
//! * When [`quarantine_after_traps`] of the outcomes in the window failed,
//!   the plugin is quarantined for [`quarantine_ms`]: calls fail at once with
//!   [`Error::Quarantined`] without entering (or creating) a sandbox.
//!   Successful calls do not reset the count; they only push failures out of
//!   the window, so interleaved good calls cannot hide a trapping path.
//! * When the cool-down is over, one call is let through as a probe (the
//!   others keep failing fast while it runs). If it fails, the plugin is
//!   quarantined again for another cool-down; if not, the window is cleared
//!   and the plugin serves again. Calls admitted before the quarantine that
//!   finish during it are recorded but neither end nor extend it.
//!
//! [`timeout_ms`]: crate::LuaSandboxLimits::timeout_ms
//! [`quarantine_after_traps`]: crate::LuaSandboxLimits::quarantine_after_traps
//! [`quarantine_window_calls`]: crate::LuaSandboxLimits::quarantine_window_calls
//! [`quarantine_ms`]: crate::LuaSandboxLimits::quarantine_ms

use crate::error::Error;
use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// One plugin's quarantine state.
#[derive(Debug)]
pub(crate) struct Quarantine {
    /// Failed outcomes in the window that quarantine the plugin; 0 disables.
    after_failures: u32,
    /// Outcomes the window holds (at least `after_failures`).
    window_len: usize,
    cool_down: Duration,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// The last `window_len` outcomes, oldest first: `true` for failed.
    window: VecDeque<bool>,
    /// Failed outcomes in `window`.
    failures: u32,
    /// Calls fail fast until then. While a probe runs it is already pushed
    /// one cool-down ahead, so concurrent calls keep failing fast.
    until: Option<Instant>,
    /// Quarantines entered (a failed probe's restart not counted).
    entered: u64,
}

/// How [`Quarantine::check`] let a call through; hand it back to
/// [`Quarantine::record`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admission {
    /// An ordinary call.
    Normal,
    /// The one call after a cool-down whose outcome ends or restarts the
    /// quarantine.
    Probe,
}

/// Quarantine state for [`PluginStats`](crate::PluginStats).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Snapshot {
    /// Failed outcomes in the current window.
    pub(crate) recent_failures: u32,
    /// Milliseconds until a probe may run; `Some` while quarantined.
    pub(crate) retry_after_ms: Option<u64>,
    /// Quarantines entered since load.
    pub(crate) entered: u64,
}

impl Quarantine {
    /// A policy: quarantine when `after_failures` (0: never) of the last
    /// `window_calls` outcomes failed, for `cool_down_ms`.
    pub(crate) fn new(after_failures: u32, window_calls: u32, cool_down_ms: u64) -> Self {
        Quarantine {
            after_failures,
            window_len: window_calls.max(after_failures).max(1) as usize,
            cool_down: Duration::from_millis(cool_down_ms),
            state: Mutex::default(),
        }
    }

    /// How a call of `method` may run now; [`Error::Quarantined`] otherwise.
    pub(crate) fn check(&self, plugin: &str, method: &str) -> Result<Admission, Error> {
        self.check_at(Instant::now(), plugin, method)
    }

    /// Counts the outcome of a call that [`check`](Self::check) let through.
    pub(crate) fn record<T>(&self, admission: Admission, result: &Result<T, Error>) {
        let outcome = match result {
            Err(e) if e.is_trap() => Outcome::Trap,
            Err(Error::PoolTimeout { .. }) => Outcome::PoolTimeout,
            _ => Outcome::Completed,
        };
        self.record_at(Instant::now(), admission, outcome);
    }

    /// The state for the plugin's stats.
    pub(crate) fn snapshot(&self) -> Snapshot {
        self.snapshot_at(Instant::now())
    }

    fn check_at(&self, now: Instant, plugin: &str, method: &str) -> Result<Admission, Error> {
        if self.after_failures == 0 {
            return Ok(Admission::Normal);
        }
        let mut state = self.lock();
        match state.until {
            Some(until) if now < until => Err(Error::Quarantined {
                plugin: plugin.into(),
                method: method.into(),
                retry_after_ms: ceil_ms(until - now),
                recent_traps: state.failures,
            }),
            Some(_) => {
                // The cool-down is over: this call is the probe.
                state.until = Some(later(now, self.cool_down));
                Ok(Admission::Probe)
            }
            None => Ok(Admission::Normal),
        }
    }

    fn record_at(&self, now: Instant, admission: Admission, outcome: Outcome) {
        if self.after_failures == 0 {
            return;
        }
        let mut state = self.lock();
        let failed = match outcome {
            Outcome::Trap => true,
            Outcome::PoolTimeout => state.window.contains(&true),
            Outcome::Completed => false,
        };
        match admission {
            Admission::Probe if failed => {
                state.push(failed, self.window_len);
                state.until = Some(later(now, self.cool_down));
            }
            Admission::Probe => {
                // The plugin recovered: start over with a clean window.
                state.window.clear();
                state.failures = 0;
                state.until = None;
            }
            Admission::Normal => {
                state.push(failed, self.window_len);
                if state.until.is_none() && state.failures >= self.after_failures {
                    state.until = Some(later(now, self.cool_down));
                    state.entered += 1;
                }
            }
        }
    }

    fn snapshot_at(&self, now: Instant) -> Snapshot {
        let state = self.lock();
        Snapshot {
            recent_failures: state.failures,
            retry_after_ms: state
                .until
                .map(|until| ceil_ms(until.saturating_duration_since(now))),
            entered: state.entered,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // Plain numbers and a queue of flags, each update complete before
        // anything that could panic: a poisoned lock is still sound.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl State {
    /// Appends an outcome, dropping the oldest beyond `window_len`.
    fn push(&mut self, failed: bool, window_len: usize) {
        self.window.push_back(failed);
        self.failures += u32::from(failed);
        if self.window.len() > window_len && self.window.pop_front() == Some(true) {
            self.failures -= 1;
        }
    }
}

/// What a call that was let through ended in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Trap,
    PoolTimeout,
    Completed,
}

/// `now + d`, saturating at a century (`quarantine_ms: u64::MAX` is "for
/// ever", not an overflow).
fn later(now: Instant, d: Duration) -> Instant {
    const CENTURY: Duration = Duration::from_secs(100 * 365 * 24 * 3600);
    now.checked_add(d.min(CENTURY)).unwrap_or(now)
}

/// Whole milliseconds, rounded up so a caller that waits that long is past
/// the cool-down.
fn ceil_ms(d: Duration) -> u64 {
    let ms = d.as_millis() + u128::from(!d.subsec_nanos().is_multiple_of(1_000_000));
    u64::try_from(ms).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Admission::{Normal, Probe};
    use Outcome::{Completed as OK, PoolTimeout, Trap as TRAP};

    fn rejected(q: &Quarantine, now: Instant) -> Option<(u64, u32)> {
        match q.check_at(now, "p", "on_request") {
            Ok(_) => None,
            Err(Error::Quarantined {
                plugin,
                method,
                retry_after_ms,
                recent_traps,
            }) => {
                assert_eq!((plugin.as_str(), method.as_str()), ("p", "on_request"));
                Some((retry_after_ms, recent_traps))
            }
            Err(other) => panic!("{other:?}"),
        }
    }

    #[test]
    fn quarantines_after_n_traps_in_the_window_for_the_cool_down() {
        let q = Quarantine::new(3, 10, 1000);
        let t0 = Instant::now();
        for _ in 0..2 {
            assert_eq!(rejected(&q, t0), None);
            q.record_at(t0, Normal, TRAP);
        }
        assert_eq!(rejected(&q, t0), None);
        q.record_at(t0, Normal, TRAP);
        assert_eq!(rejected(&q, t0), Some((1000, 3)));
        assert_eq!(
            q.snapshot_at(t0),
            Snapshot {
                recent_failures: 3,
                retry_after_ms: Some(1000),
                entered: 1
            }
        );
        assert_eq!(
            rejected(&q, t0 + Duration::from_micros(999_500)),
            Some((1, 3))
        );
        // Cool-down over: one probe goes through, the others still fail fast.
        let t1 = t0 + Duration::from_millis(1000);
        assert_eq!(q.check_at(t1, "p", "m").unwrap(), Probe);
        assert_eq!(rejected(&q, t1), Some((1000, 3)));
        // The probe traps: another full cool-down.
        let t2 = t1 + Duration::from_millis(10);
        q.record_at(t2, Probe, TRAP);
        assert_eq!(rejected(&q, t2 + Duration::from_millis(999)), Some((1, 4)));
        // The next probe succeeds: the plugin serves again, with a clean window.
        let t3 = t2 + Duration::from_millis(1000);
        assert_eq!(q.check_at(t3, "p", "m").unwrap(), Probe);
        q.record_at(t3, Probe, OK);
        assert_eq!(
            q.snapshot_at(t3),
            Snapshot {
                recent_failures: 0,
                retry_after_ms: None,
                entered: 1
            }
        );
        q.record_at(t3, Normal, TRAP);
        assert_eq!(
            rejected(&q, t3),
            None,
            "one trap after recovering is not a quarantine"
        );
    }

    #[test]
    fn good_calls_in_between_do_not_hide_traps() {
        let q = Quarantine::new(3, 10, 1000);
        let t = Instant::now();
        for _ in 0..3 {
            q.record_at(t, Normal, TRAP);
            q.record_at(t, Normal, OK);
        }
        assert_eq!(rejected(&q, t), Some((1000, 3)));
    }

    #[test]
    fn traps_age_out_of_the_window() {
        let q = Quarantine::new(3, 4, 1000);
        let t = Instant::now();
        for _ in 0..10 {
            q.record_at(t, Normal, TRAP);
            for _ in 0..3 {
                q.record_at(t, Normal, OK);
            }
        }
        assert_eq!(
            rejected(&q, t),
            None,
            "one trap in every four calls never reaches three in a window of four"
        );
        assert_eq!(q.snapshot_at(t).recent_failures, 1);
    }

    #[test]
    fn pool_timeouts_count_only_behind_traps() {
        let q = Quarantine::new(3, 10, 1000);
        let t = Instant::now();
        for _ in 0..10 {
            q.record_at(t, Normal, PoolTimeout);
        }
        assert_eq!(
            rejected(&q, t),
            None,
            "a busy plugin that does not trap is not quarantined"
        );
        q.record_at(t, Normal, TRAP);
        q.record_at(t, Normal, PoolTimeout);
        q.record_at(t, Normal, PoolTimeout);
        assert_eq!(
            rejected(&q, t),
            Some((1000, 3)),
            "waiters starved by trapping calls count"
        );
    }

    #[test]
    fn calls_finishing_during_the_quarantine_neither_end_nor_extend_it() {
        let q = Quarantine::new(1, 5, 1000);
        let t0 = Instant::now();
        q.record_at(t0, Normal, TRAP);
        let t1 = t0 + Duration::from_millis(500);
        q.record_at(t1, Normal, OK);
        q.record_at(t1, Normal, TRAP);
        assert_eq!(rejected(&q, t1), Some((500, 2)));
        assert_eq!(q.snapshot_at(t1).entered, 1);
    }

    #[test]
    fn an_endless_cool_down_does_not_overflow() {
        let q = Quarantine::new(1, 1, u64::MAX);
        let t = Instant::now();
        q.record_at(t, Normal, TRAP);
        let (retry_after_ms, _) = rejected(&q, t).unwrap();
        assert!(retry_after_ms > 1_000_000_000, "{retry_after_ms}");
    }

    #[test]
    fn zero_traps_disables_quarantine() {
        let q = Quarantine::new(0, 20, 1000);
        let t = Instant::now();
        for _ in 0..100 {
            q.record_at(t, Normal, TRAP);
        }
        assert_eq!(rejected(&q, t), None);
        assert_eq!(q.snapshot_at(t), Snapshot::default());
    }

    #[test]
    fn record_classifies_by_error_type() {
        let q = Quarantine::new(1, 5, 60_000);
        let lua_error: Result<(), Error> = Err(Error::Lua {
            plugin: "p".into(),
            method: "m".into(),
            message: "x".into(),
            traceback: String::new(),
            code: None,
        });
        q.record(Normal, &lua_error);
        assert!(q.check("p", "m").is_ok(), "a Lua error is not a trap");
        let trap: Result<(), Error> = Err(Error::OutOfFuel {
            plugin: "p".into(),
            method: "m".into(),
            fuel_limit: 1,
        });
        q.record(Normal, &trap);
        assert!(matches!(
            q.check("p", "m"),
            Err(Error::Quarantined {
                recent_traps: 1,
                ..
            })
        ));
    }
}
