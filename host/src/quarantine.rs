//! Quarantine: a plugin that traps on every call must not make the server
//! spin on it.
//!
//! Every trap costs a full budget (up to [`timeout_ms`] of a worker) and a new
//! instance. After [`quarantine_after_traps`] consecutive calls trapped, the
//! plugin is quarantined for [`quarantine_ms`]: calls fail at once with
//! [`Error::Quarantined`] without entering (or creating) a sandbox. When the
//! cool-down is over, one call is let through as a probe (the others keep
//! failing fast while it runs): if it traps too, the plugin is quarantined
//! again for another cool-down; any call that does not trap ends the streak.
//!
//! [`timeout_ms`]: crate::LuaSandboxLimits::timeout_ms
//! [`quarantine_after_traps`]: crate::LuaSandboxLimits::quarantine_after_traps
//! [`quarantine_ms`]: crate::LuaSandboxLimits::quarantine_ms

use crate::error::Error;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// One plugin's quarantine state.
#[derive(Debug)]
pub(crate) struct Quarantine {
    /// Consecutive trapping calls that quarantine the plugin; 0 disables.
    after_traps: u32,
    cool_down: Duration,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Calls that trapped in a row.
    streak: u32,
    /// Calls fail fast until then. While a probe runs it is already pushed
    /// one cool-down ahead, so concurrent calls keep failing fast.
    until: Option<Instant>,
}

impl Quarantine {
    /// A policy: quarantine after `after_traps` consecutive traps (0: never)
    /// for `cool_down_ms`.
    pub(crate) fn new(after_traps: u32, cool_down_ms: u64) -> Self {
        Quarantine { after_traps, cool_down: Duration::from_millis(cool_down_ms), state: Mutex::default() }
    }

    /// `Ok` when a call of `method` may run now; [`Error::Quarantined`]
    /// otherwise.
    pub(crate) fn check(&self, plugin: &str, method: &str) -> Result<(), Error> {
        self.check_at(Instant::now(), plugin, method)
    }

    /// Counts the outcome of a call that [`check`](Self::check) let through.
    pub(crate) fn record<T>(&self, result: &Result<T, Error>) {
        self.record_at(Instant::now(), result.as_ref().is_err_and(Error::is_trap));
    }

    fn check_at(&self, now: Instant, plugin: &str, method: &str) -> Result<(), Error> {
        if self.after_traps == 0 {
            return Ok(());
        }
        let mut state = self.lock();
        match state.until {
            Some(until) if now < until => Err(Error::Quarantined {
                plugin: plugin.into(),
                method: method.into(),
                retry_after_ms: ceil_ms(until - now),
                consecutive_traps: state.streak,
            }),
            Some(_) => {
                // The cool-down is over: this call is the probe.
                state.until = Some(later(now, self.cool_down));
                Ok(())
            }
            None => Ok(()),
        }
    }

    fn record_at(&self, now: Instant, trapped: bool) {
        if self.after_traps == 0 {
            return;
        }
        let mut state = self.lock();
        if trapped {
            state.streak = state.streak.saturating_add(1);
            if state.streak >= self.after_traps {
                state.until = Some(later(now, self.cool_down));
            }
        } else {
            *state = State::default();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // Two plain numbers: a panic elsewhere cannot leave them torn.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
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

    const TRAP: bool = true;
    const OK: bool = false;

    fn rejected(q: &Quarantine, now: Instant) -> Option<(u64, u32)> {
        match q.check_at(now, "p", "on_request") {
            Ok(()) => None,
            Err(Error::Quarantined { plugin, method, retry_after_ms, consecutive_traps }) => {
                assert_eq!((plugin.as_str(), method.as_str()), ("p", "on_request"));
                Some((retry_after_ms, consecutive_traps))
            }
            Err(other) => panic!("{other:?}"),
        }
    }

    #[test]
    fn quarantines_after_n_consecutive_traps_for_the_cool_down() {
        let q = Quarantine::new(3, 1000);
        let t0 = Instant::now();
        for _ in 0..2 {
            assert_eq!(rejected(&q, t0), None);
            q.record_at(t0, TRAP);
        }
        assert_eq!(rejected(&q, t0), None);
        q.record_at(t0, TRAP);
        assert_eq!(rejected(&q, t0), Some((1000, 3)));
        assert_eq!(rejected(&q, t0 + Duration::from_micros(999_500)), Some((1, 3)));
        // Cool-down over: one probe goes through, the others still fail fast.
        let t1 = t0 + Duration::from_millis(1000);
        assert_eq!(rejected(&q, t1), None);
        assert_eq!(rejected(&q, t1), Some((1000, 3)));
        // The probe traps: another full cool-down.
        let t2 = t1 + Duration::from_millis(10);
        q.record_at(t2, TRAP);
        assert_eq!(rejected(&q, t2 + Duration::from_millis(999)), Some((1, 4)));
        // The next probe succeeds: the streak is over.
        let t3 = t2 + Duration::from_millis(1000);
        assert_eq!(rejected(&q, t3), None);
        q.record_at(t3, OK);
        assert_eq!(rejected(&q, t3), None);
        q.record_at(t3, TRAP);
        assert_eq!(rejected(&q, t3), None, "one trap after a success is a new streak");
    }

    #[test]
    fn a_call_that_does_not_trap_resets_the_streak() {
        let q = Quarantine::new(2, 1000);
        let t = Instant::now();
        for _ in 0..10 {
            q.record_at(t, TRAP);
            q.record_at(t, OK);
        }
        assert_eq!(rejected(&q, t), None);
    }

    #[test]
    fn an_endless_cool_down_does_not_overflow() {
        let q = Quarantine::new(1, u64::MAX);
        let t = Instant::now();
        q.record_at(t, TRAP);
        let (retry_after_ms, _) = rejected(&q, t).unwrap();
        assert!(retry_after_ms > 1_000_000_000, "{retry_after_ms}");
    }

    #[test]
    fn zero_traps_disables_quarantine() {
        let q = Quarantine::new(0, 1000);
        let t = Instant::now();
        for _ in 0..100 {
            q.record_at(t, TRAP);
        }
        assert_eq!(rejected(&q, t), None);
    }

    #[test]
    fn record_classifies_by_error_type() {
        let q = Quarantine::new(1, 60_000);
        let lua_error: Result<(), Error> =
            Err(Error::Lua { plugin: "p".into(), method: "m".into(), message: "x".into(), traceback: String::new(), code: None });
        q.record(&lua_error);
        assert!(q.check("p", "m").is_ok(), "a Lua error is not a trap");
        let trap: Result<(), Error> = Err(Error::OutOfFuel { plugin: "p".into(), method: "m".into(), fuel_limit: 1 });
        q.record(&trap);
        assert!(matches!(q.check("p", "m"), Err(Error::Quarantined { consecutive_traps: 1, .. })));
    }
}
