//! A background thread that runs a task every period until its handle is
//! dropped: the epoch ticker (`engine.rs`) and the idle-sandbox sweeper
//! (`runtime.rs`).

use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::Duration;

/// Stops and joins its thread when dropped.
pub(crate) struct Periodic {
    pub(crate) period: Duration,
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Periodic {
    /// Runs `task` every `period` on a thread named `name` until the handle
    /// is dropped or `task` returns false. The caller logs a failure to
    /// start the thread, with what it means for its task.
    pub(crate) fn start(
        name: &str,
        period: Duration,
        mut task: impl FnMut() -> bool + Send + 'static,
    ) -> std::io::Result<Self> {
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(period) {
                    if !task() {
                        return;
                    }
                }
            })?;
        Ok(Periodic {
            period,
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for Periodic {
    fn drop(&mut self) {
        drop(self.stop.take()); // disconnects the channel: the thread ends
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
