//! [`FolderSource`]: plugins kept in a folder, one subfolder per tenant.

use crate::desired::{DesiredPlugin, DesiredSet, manifest_or_default};
use crate::error::SourceError;
use crate::source::{PluginSource, SourceEvent, SourceSignal, Wait};
use notify::{RecursiveMode, Watcher};
use std::collections::BTreeMap;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The tenant's manifests: `{"<plugin>": {manifest}, ...}`.
pub const MANIFEST_FILE: &str = "manifest.json";
/// The tenant's plugin configs: `{"<plugin>": {config}, ...}`.
pub const CONFIG_FILE: &str = "config.json";

/// Plugins in a folder:
///
/// ```text
/// <root>/
///   acme/                 a tenant (the folder's name)
///     ratelimit.lua       plugin `ratelimit` (the file's stem)
///     cors.lua
///     manifest.json       optional: {"ratelimit": {"version": "1.2.0", "capabilities": ["middleware"]}}
///     config.json         optional: {"ratelimit": {"limit": 100}}
///   globex/
///     auth.lua
/// ```
///
/// A plugin without an entry in `manifest.json` gets `{"name": <plugin>,
/// "version": "0.0.0"}` (no declared capabilities), one without an entry in
/// `config.json` gets `{}`. Names starting with `.` are ignored, so editors'
/// swap files and a `.ratelimit.lua.tmp` being written are never read.
///
/// Changes are picked up by watching the folder (`notify`): after an event
/// the source waits until the folder has been quiet for the debounce time
/// (default 200 ms), reads it, and reads it again if anything changed while
/// it read. A file caught half-written is at worst a version that fails to
/// load, which the reconciler rejects while the last good keeps serving,
/// and the write's next event brings the complete file. To never expose a
/// half-written file at all, write `.name.lua.tmp` and rename it to
/// `name.lua` (a rename is atomic).
///
/// Deleting a `.lua` file or a tenant folder unloads its plugins. A missing
/// or unreadable root or tenant folder, or an unreadable `manifest.json` or
/// `config.json`, is [`SourceError::Unreachable`]: everything keeps serving
/// (an unmounted volume must not unload every tenant), and the source looks
/// again every retry interval (default 1 s). A `manifest.json` or
/// `config.json` that is not JSON makes every plugin of that tenant a broken
/// entry (their last good versions keep serving).
///
/// A `.lua` entry that exists but cannot be read is a broken entry too
/// ([`SourceError::BadEntry`] naming the tenant, the plugin and the file),
/// never skipped: a symbolic link whose target does not exist (`cp -r` of
/// relative links), a file the process may not read, a directory, FIFO,
/// socket or device named `*.lua` (never opened, so a FIFO cannot block the
/// read). The reconciler logs it and shows it in the plugin's status, and a
/// gateway's `/metrics` shows the plugin down and failing: a plugin that
/// silently vanished would leave its tenant's chain without it (an auth
/// plugin failing open). Its last good version, if any, keeps serving.
pub struct FolderSource {
    root: PathBuf,
    id: String,
    debounce: Duration,
    retry: Duration,
    watcher: Option<notify::RecommendedWatcher>,
    /// The signal's wake count at the last read.
    seen: u64,
    started: bool,
}

impl std::fmt::Debug for FolderSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FolderSource")
            .field("root", &self.root)
            .field("debounce", &self.debounce)
            .field("watching", &self.watcher.is_some())
            .finish_non_exhaustive()
    }
}

impl FolderSource {
    /// Watches `root`. The source id is `folder:<root>`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        let root = root.into();
        FolderSource {
            id: format!("folder:{}", root.display()),
            root,
            debounce: Duration::from_millis(200),
            retry: Duration::from_secs(1),
            watcher: None,
            seen: 0,
            started: false,
        }
    }

    /// How long the folder must be quiet before it is read. Default: 200 ms.
    pub fn debounce(mut self, debounce: Duration) -> Self {
        self.debounce = debounce;
        self
    }

    /// How often a missing or unreadable folder is looked at again.
    /// Default: 1 s.
    pub fn retry(mut self, retry: Duration) -> Self {
        self.retry = retry;
        self
    }

    /// The folder watched.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn unreachable(&self, message: String) -> SourceError {
        SourceError::Unreachable {
            source_id: self.id.clone(),
            message,
        }
    }

    fn start_watching(&mut self, signal: &SourceSignal) -> Result<(), SourceError> {
        if self.watcher.is_some() {
            return Ok(());
        }
        let waker = signal.clone();
        let mut watcher =
            notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
                // A change (or a watcher error) means: read the folder again.
                if event.map_or(true, |e| changes_files(&e)) {
                    waker.wake();
                }
            })
            .map_err(|e| self.unreachable(format!("cannot watch the folder: {e}")))?;
        watcher
            .watch(&self.root, RecursiveMode::Recursive)
            .map_err(|e| self.unreachable(format!("cannot watch {}: {e}", self.root.display())))?;
        self.watcher = Some(watcher);
        Ok(())
    }

    /// Reads the folder once the watcher is set up and the folder has
    /// settled (no event during the read).
    fn settled_read(&mut self, signal: &SourceSignal) -> SourceEvent {
        loop {
            if let Err(error) = self.start_watching(signal) {
                return SourceEvent::Unavailable(error);
            }
            let before = signal.wakes();
            let read = self.read();
            if signal.is_stopped() {
                return SourceEvent::Stopped;
            }
            let after = signal.wakes();
            if after == before {
                self.seen = after;
                return match read {
                    Ok(set) => SourceEvent::Set(set),
                    Err(error) => {
                        // The watch may be on a folder that went away.
                        self.watcher = None;
                        SourceEvent::Unavailable(error)
                    }
                };
            }
            // Something changed while reading: wait for quiet and read again.
            self.seen = after;
            if let Wait::Stopped = self.quiet(signal) {
                return SourceEvent::Stopped;
            }
        }
    }

    /// Waits until no event arrived for the debounce time.
    fn quiet(&mut self, signal: &SourceSignal) -> Wait {
        loop {
            match signal.wait(self.seen, Some(self.debounce)) {
                Wait::Woken(n) => self.seen = n,
                other => return other,
            }
        }
    }

    /// One read of the whole folder.
    pub fn read(&self) -> Result<DesiredSet, SourceError> {
        let mut set = DesiredSet::new();
        for tenant_dir in self.list(&self.root)? {
            if !tenant_dir.is_dir() {
                continue;
            }
            let Some(tenant) = visible_name(&tenant_dir) else {
                continue;
            };
            self.read_tenant(&tenant_dir, &tenant, &mut set)?;
        }
        Ok(set)
    }

    fn read_tenant(
        &self,
        dir: &Path,
        tenant: &str,
        set: &mut DesiredSet,
    ) -> Result<(), SourceError> {
        let manifests = self.read_sections(&dir.join(MANIFEST_FILE))?;
        let configs = self.read_sections(&dir.join(CONFIG_FILE))?;
        for file in self.list(dir)? {
            if file.extension().is_none_or(|e| e != "lua") {
                continue;
            }
            let Some(plugin) = file
                .file_stem()
                .and_then(|s| s.to_str())
                .filter(|s| !s.starts_with('.'))
            else {
                continue;
            };
            let bad = |message: String| SourceError::BadEntry {
                source_id: self.id.clone(),
                tenant: tenant.into(),
                plugin: plugin.into(),
                message,
            };
            let source = match regular_file(&file) {
                Ok(true) => match std::fs::read(&file) {
                    Ok(bytes) => String::from_utf8(bytes)
                        .map_err(|_| bad(format!("{} is not UTF-8", file.display()))),
                    // Deleted while reading: the deletion's event reads again.
                    Err(e) if e.kind() == ErrorKind::NotFound => continue,
                    Err(e) => Err(bad(format!("cannot read {}: {e}", file.display()))),
                },
                Ok(false) => continue,
                Err(why) => Err(bad(why)),
            };
            let plugin_entry = (|| -> Result<DesiredPlugin, SourceError> {
                let manifests = manifests.as_ref().map_err(|m| bad(m.clone()))?;
                let configs = configs.as_ref().map_err(|m| bad(m.clone()))?;
                let manifest = manifest_or_default(plugin, manifests.get(plugin).cloned())
                    .map_err(|m| bad(format!("{MANIFEST_FILE}: {m}")))?;
                let config = configs
                    .get(plugin)
                    .map_or_else(|| "{}".to_string(), |c| c.to_string());
                DesiredPlugin::new(&self.id, tenant, plugin, manifest, config, source?)
            })();
            set.insert_result(&self.id, plugin_entry);
        }
        Ok(())
    }

    /// A tenant's `manifest.json` or `config.json` as sections by plugin:
    /// empty when absent, `Err(message)` when not a JSON object.
    #[allow(clippy::type_complexity)]
    fn read_sections(
        &self,
        path: &Path,
    ) -> Result<Result<BTreeMap<String, serde_json::Value>, String>, SourceError> {
        let text = match std::fs::read(path) {
            Ok(text) => text,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Ok(BTreeMap::new())),
            Err(e) => return Err(self.unreachable(format!("reading {}: {e}", path.display()))),
        };
        Ok(serde_json::from_slice(&text).map_err(|e| {
            format!(
                "{} is not a JSON object of sections by plugin name: {e}",
                path.display()
            )
        }))
    }

    /// The entries of `dir`, sorted.
    fn list(&self, dir: &Path) -> Result<Vec<PathBuf>, SourceError> {
        let entries = std::fs::read_dir(dir)
            .map_err(|e| self.unreachable(format!("reading {}: {e}", dir.display())))?;
        let mut paths = Vec::new();
        for entry in entries {
            match entry {
                Ok(entry) => paths.push(entry.path()),
                Err(e) => return Err(self.unreachable(format!("reading {}: {e}", dir.display()))),
            }
        }
        paths.sort();
        Ok(paths)
    }
}

/// False for events that only open or read (the source's own reads among
/// them, which would otherwise make it read forever).
fn changes_files(event: &notify::Event) -> bool {
    use notify::event::{AccessKind, AccessMode, EventKind};
    match event.kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) => false,
        _ => true,
    }
}

/// Whether the `.lua` entry `path` is a regular file (after symbolic
/// links) to read: `Ok(false)` when it was deleted since the folder was
/// listed, `Err(why)` when it exists but is no plugin source. Never opens
/// the entry.
fn regular_file(path: &Path) -> Result<bool, String> {
    let shown = path.display();
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_file() => Ok(true),
        Ok(meta) => Err(format!(
            "{shown} is {}, not a regular file",
            kind_of(&meta.file_type())
        )),
        Err(e) if e.kind() == ErrorKind::NotFound => match std::fs::symlink_metadata(path) {
            Ok(link) if link.file_type().is_symlink() => {
                let target = std::fs::read_link(path)
                    .map_or_else(|e| format!("? ({e})"), |t| t.display().to_string());
                Err(format!(
                    "{shown} is a symbolic link to {target}, which does not exist"
                ))
            }
            _ => Ok(false),
        },
        Err(e) => Err(format!("cannot read {shown}: {e}")),
    }
}

/// "a directory", "a FIFO", ...: what a non-regular entry is.
fn kind_of(kind: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return "a FIFO";
        }
        if kind.is_socket() {
            return "a socket";
        }
        if kind.is_block_device() || kind.is_char_device() {
            return "a device";
        }
    }
    if kind.is_dir() {
        "a directory"
    } else {
        "a special file"
    }
}

/// The UTF-8 file name of `path` unless it starts with `.`.
fn visible_name(path: &Path) -> Option<String> {
    path.file_name()
        .and_then(|n| n.to_str())
        .filter(|n| !n.starts_with('.'))
        .map(str::to_string)
}

impl PluginSource for FolderSource {
    fn id(&self) -> &str {
        &self.id
    }

    fn next_event(&mut self, signal: &SourceSignal) -> SourceEvent {
        if signal.is_stopped() {
            return SourceEvent::Stopped;
        }
        if !self.started {
            self.started = true;
            self.seen = signal.wakes();
            return self.settled_read(signal);
        }
        if self.watcher.is_none() {
            // The folder was missing or unreadable: look again later (or at
            // once when woken).
            if let Wait::Stopped = signal.wait(self.seen, Some(self.retry)) {
                return SourceEvent::Stopped;
            }
            self.seen = signal.wakes();
            return self.settled_read(signal);
        }
        match signal.wait(self.seen, None) {
            Wait::Stopped => return SourceEvent::Stopped,
            Wait::Woken(n) => self.seen = n,
            Wait::TimedOut => {}
        }
        if let Wait::Stopped = self.quiet(signal) {
            return SourceEvent::Stopped;
        }
        self.settled_read(signal)
    }
}
