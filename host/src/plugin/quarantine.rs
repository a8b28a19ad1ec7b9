//! Quarantine: a plugin whose calls keep trapping must not make the server
//! spin on it, even when good calls are mixed in or callers pile up; and a
//! client that makes a plugin trap on purpose must not turn that into an
//! outage for everyone else the plugin serves.
//!
//! A trap can be chosen by a client: a request whose header drives the
//! plugin's pattern match into its fuel budget (a ReDoS) traps every time.
//! A plugin-wide count of traps would let one client send five such
//! requests every cool-down and keep the plugin, so the tenant, answering
//! 503 to everyone. So the rule is scoped to where the traps come from, as
//! the gateways that guard shared backends do (per-client limits in front
//! of a shared circuit breaker, an outlier ejected alone rather than the
//! cluster), while a plugin that traps for everyone is still stopped:
//!
//! * Every call is attributed to a *source*: the client address a server
//!   passes in the request context (`RequestContext::peer_ip`, for
//!   `on_request` and `on_response`), or one shared source for calls that
//!   carry no client (the other capabilities, and contexts without a peer).
//! * Each call the quarantine lets through records one outcome, in its
//!   source's window of its last [`quarantine_window_calls`] outcomes and in
//!   the plugin's window of its last as many outcomes. An outcome is
//!   *failed* when the call trapped (each trap costs a full budget, up to
//!   [`timeout_ms`] of a worker, and a new instance), or when it got
//!   [`Error::PoolTimeout`] while its source's own window holds a trap (it
//!   waited behind its own trapping calls). Other pool timeouts count as
//!   successes: a busy plugin, or one client's traps, do not fail others.
//! * **A source** whose window holds [`quarantine_after_traps`] failures is
//!   quarantined for [`quarantine_ms`]: its calls fail at once with
//!   [`Error::Quarantined`] without entering (or creating) a sandbox; other
//!   sources are served as before. One client's traps so cost at most
//!   `quarantine_after_traps` budgets per window, then one probe per
//!   cool-down, and never fail another client's calls.
//! * **The plugin** is quarantined for everyone when its window holds
//!   `quarantine_after_traps` failures from at least as many distinct
//!   sources (and at least two): the plugin traps for many clients, so it
//!   is the plugin that is broken. One client cannot reach this; an
//!   attacker needs that many addresses (five by default), and then holds
//!   the plugin for one cool-down at a time, as before this rule.
//! * Successful calls do not reset a count; they only push failures out of
//!   the windows, so interleaved good calls cannot hide a trapping path.
//! * When a cool-down is over, one call of that source (or, plugin-wide, any
//!   call) is let through as a probe, the others keep failing fast while it
//!   runs. If it fails, the quarantine restarts for another cool-down; if
//!   not, the source's failures are forgiven (removed from both windows; a
//!   plugin-wide probe clears the plugin's window) and it is served again.
//!   Calls admitted before a quarantine that finish during it are recorded
//!   but neither end nor extend it.
//! * Sources are tracked only while they have a failure in their window or a
//!   quarantine running, at most [`MAX_TRACKED_SOURCES`]; beyond that, new
//!   failing sources are counted in the plugin's window only (so many
//!   failing clients still reach the plugin-wide rule).
//!
//! [`timeout_ms`]: crate::LuaSandboxLimits::timeout_ms
//! [`quarantine_after_traps`]: crate::LuaSandboxLimits::quarantine_after_traps
//! [`quarantine_window_calls`]: crate::LuaSandboxLimits::quarantine_window_calls
//! [`quarantine_ms`]: crate::LuaSandboxLimits::quarantine_ms

use crate::error::Error;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Sources tracked at once per plugin (a bound on the state a flood of
/// client addresses can make the host keep).
pub(crate) const MAX_TRACKED_SOURCES: usize = 4096;

/// Where a call comes from: a client address, or `None` for calls that
/// carry no client.
pub(crate) type Source = Option<String>;

/// One plugin's quarantine state.
#[derive(Debug)]
pub(crate) struct Quarantine {
    /// Failed outcomes in a window that quarantine its source, and (from as
    /// many distinct sources) the plugin; 0 disables.
    after_failures: u32,
    /// Outcomes a window holds (at least `after_failures`).
    window_len: usize,
    cool_down: Duration,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// The plugin's last `window_len` outcomes, oldest first: the failing
    /// source for a failed one, `None` for a success.
    window: VecDeque<Option<Source>>,
    /// Plugin-wide: every call fails fast until then.
    until: Option<Instant>,
    /// Sources with a failure in their window or a quarantine running.
    sources: HashMap<Source, Breaker>,
    /// Quarantines entered, of sources and of the plugin (a failed probe's
    /// restart not counted).
    entered: u64,
}

/// One source's window and quarantine.
#[derive(Debug, Default)]
struct Breaker {
    /// The source's last `window_len` outcomes, oldest first: `true` for failed.
    window: VecDeque<bool>,
    /// Failed outcomes in `window`.
    failures: u32,
    /// The source's calls fail fast until then. While a probe runs it is
    /// already pushed one cool-down ahead, so concurrent calls keep failing
    /// fast.
    until: Option<Instant>,
}

/// How [`Quarantine::check`] let a call through; hand it back to
/// [`Quarantine::record`]. It borrows the call's client address: most calls
/// never need a key of their own (see [`owned`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Admission<'a> {
    source: Option<&'a str>,
    probe: Option<Scope>,
}

/// A source as the state keeps it: made only where a call's source is
/// looked up among tracked ones or kept, not for every call.
fn owned(source: Option<&str>) -> Source {
    source.map(str::to_owned)
}

/// What a probe call decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    /// The plugin-wide quarantine.
    Plugin,
    /// The quarantine of the call's source.
    Source,
}

/// Quarantine state for [`PluginStats`](crate::PluginStats).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Snapshot {
    /// Failed outcomes in the plugin's current window.
    pub(crate) recent_failures: u32,
    /// Milliseconds until a probe may run; `Some` while the plugin, or a
    /// source of its calls, is quarantined (the longest wait).
    pub(crate) retry_after_ms: Option<u64>,
    /// Quarantines entered since load, of sources and of the plugin.
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

    /// How a call of `method` from `source` may run now;
    /// [`Error::Quarantined`] otherwise.
    pub(crate) fn check<'a>(
        &self,
        plugin: &str,
        method: &str,
        source: Option<&'a str>,
    ) -> Result<Admission<'a>, Error> {
        self.check_at(Instant::now, plugin, method, source)
    }

    /// Counts the outcome of a call that [`check`](Self::check) let through.
    pub(crate) fn record<T>(&self, admission: Admission<'_>, result: &Result<T, Error>) {
        let outcome = match result {
            Err(e) if e.is_trap() => Outcome::Trap,
            Err(Error::PoolTimeout { .. }) => Outcome::PoolTimeout,
            _ => Outcome::Completed,
        };
        self.record_at(Instant::now, admission, outcome);
    }

    /// The state for the plugin's stats.
    pub(crate) fn snapshot(&self) -> Snapshot {
        self.snapshot_at(Instant::now())
    }

    /// [`check`](Self::check) at the time `clock` gives, read only when a
    /// quarantine is set (most calls meet none).
    fn check_at<'a>(
        &self,
        clock: impl Fn() -> Instant,
        plugin: &str,
        method: &str,
        source: Option<&'a str>,
    ) -> Result<Admission<'a>, Error> {
        let admitted = |probe| Ok(Admission { source, probe });
        if self.after_failures == 0 {
            return admitted(None);
        }
        let read = std::cell::OnceCell::new();
        let now = || *read.get_or_init(&clock);
        let mut state = self.lock();
        let refused = |until: Instant, recent_traps: u32| Error::Quarantined {
            plugin: plugin.into(),
            method: method.into(),
            retry_after_ms: ceil_ms(until - now()),
            recent_traps,
        };
        match state.until {
            Some(until) if now() < until => return Err(refused(until, state.failures())),
            Some(_) => {
                // The plugin's cool-down is over: this call is its probe.
                state.until = Some(later(now(), self.cool_down));
                return admitted(Some(Scope::Plugin));
            }
            None => {}
        }
        if state.sources.is_empty() {
            return admitted(None);
        }
        let probe = match state.sources.get_mut(&owned(source)) {
            Some(Breaker {
                until: Some(until),
                failures,
                ..
            }) if now() < *until => return Err(refused(*until, *failures)),
            Some(breaker @ Breaker { until: Some(_), .. }) => {
                breaker.until = Some(later(now(), self.cool_down));
                Some(Scope::Source)
            }
            _ => None,
        };
        admitted(probe)
    }

    /// [`record`](Self::record) at the time `clock` gives, read only when a
    /// quarantine starts.
    fn record_at(&self, clock: impl Fn() -> Instant, admission: Admission<'_>, outcome: Outcome) {
        if self.after_failures == 0 {
            return;
        }
        let read = std::cell::OnceCell::new();
        let now = || *read.get_or_init(&clock);
        let mut state = self.lock();
        let state = &mut *state;
        let Admission { source, probe } = admission;
        let failed = match outcome {
            Outcome::Trap => true,
            Outcome::PoolTimeout => {
                !state.sources.is_empty()
                    && state
                        .sources
                        .get(&owned(source))
                        .is_some_and(|b| b.window.contains(&true))
            }
            Outcome::Completed => false,
        };
        match probe {
            Some(scope) if !failed => {
                // Recovered: forgive the source's failures; a plugin-wide
                // probe starts the plugin over with a clean window.
                if scope == Scope::Plugin {
                    state.window.clear();
                    state.until = None;
                } else {
                    for outcome in state.window.iter_mut() {
                        if outcome.as_ref().is_some_and(|s| s.as_deref() == source) {
                            *outcome = None;
                        }
                    }
                }
                state.sources.remove(&owned(source));
                return;
            }
            Some(scope) => {
                let key = owned(source);
                state.push(failed.then(|| key.clone()), self.window_len);
                // A source probe's breaker exists; a plugin-wide probe's
                // source is tracked within the same bound as any other.
                let tracked = state.sources.contains_key(&key);
                if tracked || state.sources.len() < MAX_TRACKED_SOURCES {
                    let breaker = state.sources.entry(key).or_default();
                    breaker.push(failed, self.window_len);
                    if scope == Scope::Source {
                        breaker.until = Some(later(now(), self.cool_down));
                    }
                }
                if scope == Scope::Plugin {
                    state.until = Some(later(now(), self.cool_down));
                }
                return;
            }
            None => {}
        }
        state.push(failed.then(|| owned(source)), self.window_len);
        let mut entered_source = false;
        // A success changes no breaker while none is tracked: most calls
        // make no key.
        if failed || !state.sources.is_empty() {
            let key = owned(source);
            let tracked = state.sources.contains_key(&key);
            if tracked || (failed && state.sources.len() < MAX_TRACKED_SOURCES) {
                let breaker = state.sources.entry(key.clone()).or_default();
                breaker.push(failed, self.window_len);
                if breaker.until.is_none() && breaker.failures >= self.after_failures {
                    breaker.until = Some(later(now(), self.cool_down));
                    state.entered += 1;
                    entered_source = true;
                } else if breaker.until.is_none() && breaker.failures == 0 {
                    state.sources.remove(&key);
                }
            }
        }
        let sources_needed = self.after_failures.max(2) as usize;
        if state.until.is_none()
            && state.failures() >= self.after_failures
            && state.failing_sources(sources_needed) >= sources_needed
        {
            state.until = Some(later(now(), self.cool_down));
            // Entering both scopes at once is one quarantine.
            if !entered_source {
                state.entered += 1;
            }
        }
    }

    fn snapshot_at(&self, now: Instant) -> Snapshot {
        let state = self.lock();
        let until = state
            .sources
            .values()
            .filter_map(|b| b.until)
            .chain(state.until)
            .max();
        Snapshot {
            recent_failures: state.failures(),
            retry_after_ms: until.map(|until| ceil_ms(until.saturating_duration_since(now))),
            entered: state.entered,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // Plain numbers, queues and a map, each update complete before
        // anything that could panic: a poisoned lock is still sound.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl State {
    /// Appends an outcome to the plugin's window, dropping the oldest
    /// beyond `window_len`.
    fn push(&mut self, failed: Option<Source>, window_len: usize) {
        self.window.push_back(failed);
        if self.window.len() > window_len {
            self.window.pop_front();
        }
    }

    /// Failed outcomes in the plugin's window.
    fn failures(&self) -> u32 {
        self.window.iter().filter(|o| o.is_some()).count() as u32
    }

    /// Distinct sources of the failures in the plugin's window, counted up
    /// to `enough`.
    fn failing_sources(&self, enough: usize) -> usize {
        let mut seen: Vec<&Source> = Vec::with_capacity(enough);
        for source in self.window.iter().flatten() {
            if !seen.contains(&source) {
                seen.push(source);
                if seen.len() >= enough {
                    break;
                }
            }
        }
        seen.len()
    }
}

impl Breaker {
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

    /// An ordinary call with no client.
    #[allow(non_upper_case_globals)]
    const Normal: Admission<'static> = Admission {
        source: None,
        probe: None,
    };
    /// The probe of the no-client source's quarantine.
    #[allow(non_upper_case_globals)]
    const Probe: Admission<'static> = Admission {
        source: None,
        probe: Some(Scope::Source),
    };
    use Outcome::{Completed as OK, PoolTimeout, Trap as TRAP};

    fn rejected(q: &Quarantine, now: Instant) -> Option<(u64, u32)> {
        match q.check_at(|| now, "p", "on_request", None) {
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
            q.record_at(|| t0, Normal, TRAP);
        }
        assert_eq!(rejected(&q, t0), None);
        q.record_at(|| t0, Normal, TRAP);
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
        assert_eq!(q.check_at(|| t1, "p", "m", None).unwrap(), Probe);
        assert_eq!(rejected(&q, t1), Some((1000, 3)));
        // The probe traps: another full cool-down.
        let t2 = t1 + Duration::from_millis(10);
        q.record_at(|| t2, Probe, TRAP);
        assert_eq!(rejected(&q, t2 + Duration::from_millis(999)), Some((1, 4)));
        // The next probe succeeds: the plugin serves again, with a clean window.
        let t3 = t2 + Duration::from_millis(1000);
        assert_eq!(q.check_at(|| t3, "p", "m", None).unwrap(), Probe);
        q.record_at(|| t3, Probe, OK);
        assert_eq!(
            q.snapshot_at(t3),
            Snapshot {
                recent_failures: 0,
                retry_after_ms: None,
                entered: 1
            }
        );
        q.record_at(|| t3, Normal, TRAP);
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
            q.record_at(|| t, Normal, TRAP);
            q.record_at(|| t, Normal, OK);
        }
        assert_eq!(rejected(&q, t), Some((1000, 3)));
    }

    #[test]
    fn traps_age_out_of_the_window() {
        let q = Quarantine::new(3, 4, 1000);
        let t = Instant::now();
        for _ in 0..10 {
            q.record_at(|| t, Normal, TRAP);
            for _ in 0..3 {
                q.record_at(|| t, Normal, OK);
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
            q.record_at(|| t, Normal, PoolTimeout);
        }
        assert_eq!(
            rejected(&q, t),
            None,
            "a busy plugin that does not trap is not quarantined"
        );
        q.record_at(|| t, Normal, TRAP);
        q.record_at(|| t, Normal, PoolTimeout);
        q.record_at(|| t, Normal, PoolTimeout);
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
        q.record_at(|| t0, Normal, TRAP);
        let t1 = t0 + Duration::from_millis(500);
        q.record_at(|| t1, Normal, OK);
        q.record_at(|| t1, Normal, TRAP);
        assert_eq!(rejected(&q, t1), Some((500, 2)));
        assert_eq!(q.snapshot_at(t1).entered, 1);
    }

    #[test]
    fn an_endless_cool_down_does_not_overflow() {
        let q = Quarantine::new(1, 1, u64::MAX);
        let t = Instant::now();
        q.record_at(|| t, Normal, TRAP);
        let (retry_after_ms, _) = rejected(&q, t).unwrap();
        assert!(retry_after_ms > 1_000_000_000, "{retry_after_ms}");
    }

    fn from<'a>(q: &Quarantine, now: Instant, client: &'a str) -> Result<Admission<'a>, Error> {
        q.check_at(|| now, "p", "on_request", Some(client))
    }

    #[test]
    fn one_clients_traps_quarantine_that_client_only() {
        let q = Quarantine::new(5, 20, 5000);
        let t = Instant::now();
        for i in 0..200 {
            // The attacker traps on every call it is let through ...
            if let Ok(admission) = from(&q, t, "198.51.100.1") {
                q.record_at(|| t, admission, TRAP);
            }
            // ... and a good client keeps being served.
            let good = from(&q, t, "203.0.113.7")
                .unwrap_or_else(|e| panic!("good call {i} refused: {e:?}"));
            q.record_at(|| t, good, OK);
        }
        assert!(from(&q, t, "198.51.100.1").is_err());
        let snapshot = q.snapshot_at(t);
        assert_eq!((snapshot.entered, snapshot.retry_after_ms), (1, Some(5000)));
        // Pool timeouts of the good client are not failures of its own.
        let good = from(&q, t, "203.0.113.7").unwrap();
        q.record_at(|| t, good, PoolTimeout);
        assert!(from(&q, t, "203.0.113.7").is_ok());
    }

    #[test]
    fn traps_from_as_many_clients_as_the_threshold_quarantine_the_plugin() {
        let q = Quarantine::new(3, 10, 1000);
        let t = Instant::now();
        for client in ["a", "b"] {
            let admission = from(&q, t, client).unwrap();
            q.record_at(|| t, admission, TRAP);
        }
        assert!(from(&q, t, "good").is_ok(), "two clients are not enough");
        let admission = from(&q, t, "c").unwrap();
        q.record_at(|| t, admission, TRAP);
        assert!(matches!(
            from(&q, t, "good"),
            Err(Error::Quarantined {
                retry_after_ms: 1000,
                recent_traps: 3,
                ..
            })
        ));
        assert_eq!(q.snapshot_at(t).entered, 1);
        // After the cool-down any call is the probe; it succeeds: everyone
        // is served again with a clean window.
        let t1 = t + Duration::from_millis(1000);
        let probe = from(&q, t1, "good").unwrap();
        assert_eq!(probe.probe, Some(Scope::Plugin));
        assert!(from(&q, t1, "other").is_err(), "one probe at a time");
        q.record_at(|| t1, probe, OK);
        assert_eq!(q.snapshot_at(t1).recent_failures, 0);
        for client in ["a", "b", "c", "d"] {
            assert!(from(&q, t1, client).is_ok(), "{client}");
        }
    }

    #[test]
    fn a_recovered_clients_traps_are_forgiven_plugin_wide() {
        let q = Quarantine::new(2, 10, 1000);
        let t = Instant::now();
        for _ in 0..2 {
            let admission = from(&q, t, "a").unwrap();
            q.record_at(|| t, admission, TRAP);
        }
        assert!(from(&q, t, "a").is_err());
        let t1 = t + Duration::from_millis(1000);
        let probe = from(&q, t1, "a").unwrap();
        assert_eq!(probe.probe, Some(Scope::Source));
        q.record_at(|| t1, probe, OK);
        assert_eq!(
            q.snapshot_at(t1),
            Snapshot {
                recent_failures: 0,
                retry_after_ms: None,
                entered: 1
            }
        );
        // One trap from another client is not "two clients trapping".
        let admission = from(&q, t1, "b").unwrap();
        q.record_at(|| t1, admission, TRAP);
        assert!(from(&q, t1, "c").is_ok());
    }

    #[test]
    fn tracked_clients_are_bounded() {
        let q = Quarantine::new(2, 4, 1000);
        let t = Instant::now();
        for n in 0..MAX_TRACKED_SOURCES + 100 {
            let client = format!("10.0.{}.{}", n / 256, n % 256);
            if let Ok(admission) = from(&q, t, &client) {
                q.record_at(|| t, admission, TRAP);
            }
        }
        assert!(q.lock().sources.len() <= MAX_TRACKED_SOURCES);
        // With the bound reached and the plugin's cool-down over, its probe
        // comes from yet another client and traps: that client is not
        // tracked past the bound either.
        {
            let mut state = q.lock();
            for n in state.sources.len()..MAX_TRACKED_SOURCES {
                state
                    .sources
                    .insert(Some(format!("full-{n}")), Breaker::default());
            }
            state.until = Some(t);
        }
        let t1 = t + Duration::from_millis(1000);
        let probe = from(&q, t1, "192.0.2.1").unwrap();
        assert_eq!(probe.probe, Some(Scope::Plugin));
        q.record_at(|| t1, probe, TRAP);
        assert_eq!(q.lock().sources.len(), MAX_TRACKED_SOURCES);
        // Good calls leave nothing behind.
        let q = Quarantine::new(2, 4, 1000);
        for n in 0..100 {
            let client = n.to_string();
            let admission = from(&q, t, &client).unwrap();
            q.record_at(|| t, admission, OK);
        }
        assert!(q.lock().sources.is_empty());
    }

    #[test]
    fn calls_that_meet_no_quarantine_read_no_clock_and_track_nothing() {
        let q = Quarantine::new(3, 10, 1000);
        let no_clock = || -> Instant { panic!("the clock was read") };
        for client in [Some("192.0.2.1"), None] {
            let admission = q.check_at(no_clock, "p", "m", client).unwrap();
            q.record_at(no_clock, admission, OK);
        }
        assert!(q.lock().sources.is_empty());
        assert_eq!(q.snapshot_at(Instant::now()), Snapshot::default());
    }

    #[test]
    fn zero_traps_disables_quarantine() {
        let q = Quarantine::new(0, 20, 1000);
        let t = Instant::now();
        for _ in 0..100 {
            q.record_at(|| t, Normal, TRAP);
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
        assert!(q.check("p", "m", None).is_ok(), "a Lua error is not a trap");
        let trap: Result<(), Error> = Err(Error::OutOfFuel {
            plugin: "p".into(),
            method: "m".into(),
            fuel_limit: 1,
        });
        q.record(Normal, &trap);
        assert!(matches!(
            q.check("p", "m", None),
            Err(Error::Quarantined {
                recent_traps: 1,
                ..
            })
        ));
    }
}
