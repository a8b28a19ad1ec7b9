//! The [`PluginSource`] trait and the [`SourceSignal`] a source waits on.

use crate::desired::DesiredSet;
use crate::error::SourceError;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// What a source reports after each look at its store.
#[derive(Debug)]
#[non_exhaustive]
pub enum SourceEvent {
    /// The complete set of plugins the store holds now.
    Set(DesiredSet),
    /// The store answered and nothing changed (an HTTP 304, a re-established
    /// etcd watch).
    Unchanged,
    /// The store could not be read. Every plugin of the source keeps
    /// serving as it is.
    Unavailable(SourceError),
    /// The [`SourceSignal`] was stopped.
    Stopped,
}

/// A store of plugin code: a folder, an HTTP API, an etcd prefix, or one of
/// the embedder's own.
///
/// A source is pulled: [`next_event`](Self::next_event) returns the whole
/// desired set on the first call and then blocks until the store may have
/// changed. The [`Reconciler`](crate::Reconciler) runs each source on a
/// thread of its own ([`Reconciler::watch`](crate::Reconciler::watch)), or a
/// test can drive one by hand.
pub trait PluginSource: Send {
    /// Names the source in statuses, errors and the last good file:
    /// `folder:/srv/plugins`, `http://api.internal/plugins.json`,
    /// `etcd:/bext/plugins/`. Two sources watched by one reconciler must
    /// have different ids.
    fn id(&self) -> &str;

    /// The first call returns the store's current set (or
    /// [`SourceEvent::Unavailable`]) without waiting; later calls wait for a
    /// change, a poll interval or a reconnect, and return
    /// [`SourceEvent::Stopped`] promptly once `signal` is stopped.
    fn next_event(&mut self, signal: &SourceSignal) -> SourceEvent;
}

/// How a [`SourceSignal::wait`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// The signal was stopped.
    Stopped,
    /// [`SourceSignal::wake`] was called; the value is the new wake count.
    Woken(u64),
    /// The timeout passed first.
    TimedOut,
}

/// Stop and wake-up for a running source: the reconciler stops it, a
/// source's own watcher (a `notify` callback) wakes it. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct SourceSignal {
    inner: Arc<SignalInner>,
}

#[derive(Debug, Default)]
struct SignalInner {
    state: Mutex<SignalState>,
    changed: Condvar,
    /// For async sources: woken on stop.
    #[cfg(any(feature = "http", feature = "etcd"))]
    stop_notify: tokio::sync::Notify,
}

#[derive(Debug, Default)]
struct SignalState {
    stopped: bool,
    wakes: u64,
}

impl SourceSignal {
    /// A signal that is neither stopped nor woken.
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, SignalState> {
        // Two plain fields; a panic elsewhere cannot leave them torn.
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stops the source: every wait returns [`Wait::Stopped`] from now on.
    pub fn stop(&self) {
        self.state().stopped = true;
        self.inner.changed.notify_all();
        #[cfg(any(feature = "http", feature = "etcd"))]
        self.inner.stop_notify.notify_waiters();
    }

    /// True once [`stop`](Self::stop) was called.
    pub fn is_stopped(&self) -> bool {
        self.state().stopped
    }

    /// Counts a wake-up (something in the store may have changed).
    pub fn wake(&self) {
        self.state().wakes += 1;
        self.inner.changed.notify_all();
    }

    /// How many wake-ups there were so far.
    pub fn wakes(&self) -> u64 {
        self.state().wakes
    }

    /// Blocks until the signal is stopped, the wake count passes `seen`, or
    /// `timeout` (if any) elapses.
    pub fn wait(&self, seen: u64, timeout: Option<Duration>) -> Wait {
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut state = self.state();
        loop {
            if state.stopped {
                return Wait::Stopped;
            }
            if state.wakes != seen {
                return Wait::Woken(state.wakes);
            }
            match deadline {
                None => {
                    state = self
                        .inner
                        .changed
                        .wait(state)
                        .unwrap_or_else(|e| e.into_inner())
                }
                Some(deadline) => {
                    let now = Instant::now();
                    if now >= deadline {
                        return Wait::TimedOut;
                    }
                    state = self
                        .inner
                        .changed
                        .wait_timeout(state, deadline - now)
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                }
            }
        }
    }

    /// Sleeps for `duration` unless stopped first; true when stopped.
    pub fn sleep(&self, duration: Duration) -> bool {
        let deadline = Instant::now() + duration;
        loop {
            let seen = self.wakes();
            let left = deadline.saturating_duration_since(Instant::now());
            match self.wait(seen, Some(left)) {
                Wait::Stopped => return true,
                Wait::TimedOut => return false,
                Wait::Woken(_) if left.is_zero() => return false,
                Wait::Woken(_) => continue,
            }
        }
    }

    /// Resolves once the signal is stopped (for sources that run futures;
    /// with the `http` or `etcd` feature).
    #[cfg(any(feature = "http", feature = "etcd"))]
    pub async fn stopped(&self) {
        loop {
            let notified = self.inner.stop_notify.notified();
            let mut notified = std::pin::pin!(notified);
            // Registered before the check, so a stop in between is not lost.
            notified.as_mut().enable();
            if self.is_stopped() {
                return;
            }
            notified.await;
        }
    }

    /// Runs `future` to its end unless the signal is stopped first
    /// (`None`).
    #[cfg(any(feature = "http", feature = "etcd"))]
    pub async fn unless_stopped<T>(
        &self,
        future: impl std::future::Future<Output = T>,
    ) -> Option<T> {
        use std::future::Future;
        use std::task::Poll;
        let mut future = std::pin::pin!(future);
        let mut stopped = std::pin::pin!(self.stopped());
        std::future::poll_fn(|cx| {
            if let Poll::Ready(value) = future.as_mut().poll(cx) {
                return Poll::Ready(Some(value));
            }
            if stopped.as_mut().poll(cx).is_ready() {
                return Poll::Ready(None);
            }
            Poll::Pending
        })
        .await
    }
}

/// A boxed source is a source: an embedder choosing the store at run time
/// (a command-line flag) hands the reconciler a `Box<dyn PluginSource>`.
impl<S: PluginSource + ?Sized> PluginSource for Box<S> {
    fn id(&self) -> &str {
        (**self).id()
    }

    fn next_event(&mut self, signal: &SourceSignal) -> SourceEvent {
        (**self).next_event(signal)
    }
}
