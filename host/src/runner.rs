//! The full profile: runs a Lua program like the standalone `lua`
//! interpreter, for the `bext-lua run` tool and the conformance tests.
//!
//! **Not a plugin sandbox.** Plugins loaded through
//! [`LuaPluginRuntime`](crate::LuaPluginRuntime) always get the sandbox
//! (no files, no environment, no `io`/`os`/`debug`/`package`). A
//! [`LuaRunner`] instead opens every standard library and grants the guest,
//! through WASI:
//!
//! * the host folder [`RunOptions::current_dir`] preopened as `.` (read and
//!   write), so relative paths and `require` of Lua modules work;
//! * a private temporary folder, created for the run and removed after it,
//!   preopened as `/tmp`: `os.tmpname` and `io.tmpfile` create their files
//!   there;
//! * the environment ([`RunEnv`]), and stdin/stdout/stderr ([`RunStdio`]).
//!
//! No fuel, deadline or heap limit applies beyond wasm32's 4 GiB. `os.exit`
//! ends the run with its status; an uncaught error prints the message and a
//! traceback to stderr and gives status 1, as `lua` does.
//!
//! ```no_run
//! use bext_plugin_lua_wasm::runner::{LuaRunner, RunOptions};
//! let runner = LuaRunner::new()?;
//! let outcome = runner.run(&RunOptions::script("all.lua").exec("_U=true"))?;
//! std::process::exit(outcome.exit_code);
//! # Ok::<(), bext_plugin_lua_wasm::runner::RunError>(())
//! ```

use crate::config::runtime::LuaRuntimeConfig;
use crate::engine::GuestEngine;
use crate::guest::state::{HostState, PluginServices};
use crate::metrics::TracingMetrics;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use wasmtime::{Store, Trap};
use wasmtime_wasi::p2::pipe::{MemoryInputPipe, MemoryOutputPipe};
use wasmtime_wasi::{FsPerms, I32Exit, WasiCtxBuilder};

/// The guest path of the private temporary folder.
pub const GUEST_TMP_DIR: &str = "/tmp";

/// Largest captured stdout or stderr, in bytes (64 MiB); a program writing
/// more fails its write.
const CAPTURE_LIMIT_BYTES: usize = 64 << 20;

/// What went wrong setting up or running a program (not the program's own
/// errors, which are its exit status and stderr).
#[derive(Debug)]
#[non_exhaustive]
pub enum RunError {
    /// The wasm engine or the guest could not be set up.
    Engine {
        /// What failed.
        message: String,
    },
    /// The private temporary folder or a preopened folder is unusable.
    Folder {
        /// The host path.
        path: PathBuf,
        /// What failed.
        message: String,
    },
    /// The guest trapped: a wasm stack overflow, Lua's panic (abort), or a
    /// guest bug. The run's output so far was written.
    Trap {
        /// The trap's description.
        message: String,
    },
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunError::Engine { message } => write!(f, "wasm engine: {message}"),
            RunError::Folder { path, message } => write!(f, "folder {}: {message}", path.display()),
            RunError::Trap { message } => write!(f, "the Lua guest trapped: {message}"),
        }
    }
}

impl std::error::Error for RunError {}

/// The environment the program sees.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum RunEnv {
    /// The host process's environment (what `bext-lua run` uses). Default.
    #[default]
    Inherit,
    /// Exactly these variables.
    Vars(Vec<(String, String)>),
}

/// Where the program's standard streams go.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum RunStdio {
    /// The host process's stdin, stdout and stderr. Default.
    #[default]
    Inherit,
    /// stdin reads these bytes; stdout and stderr are captured into
    /// [`RunOutcome`] (up to 64 MiB each).
    Capture {
        /// What the program reads from stdin.
        stdin: Vec<u8>,
    },
}

/// One run: a `lua` command line and what the program may use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOptions {
    /// `arg[-n]`: the program name in messages. Default `bext-lua`.
    pub program_name: String,
    /// Chunks run first, in order, like `lua -e CHUNK`.
    pub exec_chunks: Vec<String>,
    /// The script: a path relative to [`current_dir`](Self::current_dir) (or
    /// under `/tmp`), or `-` for stdin. `None` runs only the chunks.
    pub script: Option<String>,
    /// `arg[1..]` and the script's `...`.
    pub script_args: Vec<String>,
    /// The host folder preopened as `.`; `None` = the process's current folder.
    pub current_dir: Option<PathBuf>,
    /// The environment. Default: inherited.
    pub env: RunEnv,
    /// The standard streams. Default: inherited.
    pub stdio: RunStdio,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            program_name: "bext-lua".into(),
            exec_chunks: Vec::new(),
            script: None,
            script_args: Vec::new(),
            current_dir: None,
            env: RunEnv::Inherit,
            stdio: RunStdio::Inherit,
        }
    }
}

impl RunOptions {
    /// Runs the file `path` (`-` for stdin).
    pub fn script(path: impl Into<String>) -> Self {
        RunOptions {
            script: Some(path.into()),
            ..Default::default()
        }
    }

    /// Runs `source` given on stdin (chunk name `stdin`), capturing output,
    /// with an empty environment: what the conformance tests use.
    pub fn captured_source(source: impl Into<Vec<u8>>) -> Self {
        RunOptions {
            script: Some("-".into()),
            env: RunEnv::Vars(Vec::new()),
            stdio: RunStdio::Capture {
                stdin: source.into(),
            },
            ..Default::default()
        }
    }

    /// Adds a chunk run before the script, like `lua -e CHUNK`.
    pub fn exec(mut self, chunk: impl Into<String>) -> Self {
        self.exec_chunks.push(chunk.into());
        self
    }

    /// Sets [`script_args`](Self::script_args).
    pub fn args(mut self, args: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.script_args = args.into_iter().map(Into::into).collect();
        self
    }

    /// Sets [`current_dir`](Self::current_dir).
    pub fn current_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.current_dir = Some(dir.into());
        self
    }

    /// The WASI argv (a validated `lua` command line) and the script's index
    /// in it (0 when there is no script).
    fn argv(&self) -> (Vec<String>, i32) {
        let mut argv = vec![self.program_name.clone()];
        for chunk in &self.exec_chunks {
            argv.push("-e".into());
            argv.push(chunk.clone());
        }
        let mut script_index = 0;
        if let Some(script) = &self.script {
            script_index = argv.len() as i32;
            argv.push(script.clone());
            argv.extend(self.script_args.iter().cloned());
        }
        (argv, script_index)
    }
}

/// How a run ended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunOutcome {
    /// 0 on success, 1 after an uncaught error, or `os.exit`'s status.
    pub exit_code: i32,
    /// Captured stdout ([`RunStdio::Capture`]; empty otherwise).
    pub stdout: Vec<u8>,
    /// Captured stderr ([`RunStdio::Capture`]; empty otherwise).
    pub stderr: Vec<u8>,
}

/// Runs Lua programs in the full profile; compiles the guest once, and each
/// [`run`](Self::run) gets a fresh instance and Lua state.
pub struct LuaRunner {
    engine: wasmtime::Engine,
    instance_pre: wasmtime::InstancePre<HostState>,
    services: Arc<PluginServices>,
}

impl fmt::Debug for LuaRunner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LuaRunner").finish_non_exhaustive()
    }
}

impl LuaRunner {
    /// A runner without fuel metering or deadlines (like `lua`), with the
    /// default wasm stack ([`LuaRuntimeConfig::max_wasm_stack_bytes`]).
    pub fn new() -> Result<Self, RunError> {
        Self::with_config(
            LuaRuntimeConfig::default()
                .fuel_metering(false)
                .epoch_deadlines(false),
        )
    }

    /// A runner with engine settings (the wasm stack size, for instance).
    /// Fuel metering and epoch deadlines must be off: a run has no budget.
    /// With [`LuaRuntimeConfig::artifact_cache_dir`] set, the compiled guest
    /// is loaded from (or saved to) a file there, as the runtime's snapshot
    /// is, so a new process starts without compiling: what `bext-lua run`
    /// does with its per-user cache folder.
    pub fn with_config(config: LuaRuntimeConfig) -> Result<Self, RunError> {
        if config.fuel_metering || config.epoch_deadlines {
            return Err(RunError::Engine {
                message:
                    "the full profile runs without fuel metering and epoch deadlines; turn both off"
                        .into(),
            });
        }
        let (engine, instance_pre) =
            GuestEngine::raw_guest(&config).map_err(|e| RunError::Engine {
                message: e.to_string(),
            })?;
        let services = Arc::new(PluginServices {
            name: "bext-lua".into(),
            metrics: Arc::new(TracingMetrics),
            shared: None,
        });
        Ok(LuaRunner {
            engine,
            instance_pre,
            services,
        })
    }

    /// Runs one program to its end.
    pub fn run(&self, options: &RunOptions) -> Result<RunOutcome, RunError> {
        let tmp = PrivateTmp::create()?;
        let cwd = match &options.current_dir {
            Some(dir) => dir.clone(),
            None => std::env::current_dir().map_err(|e| RunError::Folder {
                path: ".".into(),
                message: e.to_string(),
            })?,
        };
        let (argv, script_index) = options.argv();
        let mut wasi = WasiCtxBuilder::new();
        wasi.args(&argv);
        match &options.env {
            RunEnv::Inherit => {
                wasi.inherit_env();
            }
            RunEnv::Vars(vars) => {
                wasi.envs(vars);
            }
        }
        let preopen_error = |path: &Path, e: wasmtime::Error| RunError::Folder {
            path: path.into(),
            message: format!("{e:#}"),
        };
        wasi.preopened_dir(&cwd, ".", FsPerms::ReadWrite)
            .map_err(|e| preopen_error(&cwd, e))?;
        wasi.preopened_dir(&tmp.0, GUEST_TMP_DIR, FsPerms::ReadWrite)
            .map_err(|e| preopen_error(&tmp.0, e))?;
        let captured = match &options.stdio {
            RunStdio::Inherit => {
                wasi.inherit_stdio();
                None
            }
            RunStdio::Capture { stdin } => {
                let (out, err) = (
                    MemoryOutputPipe::new(CAPTURE_LIMIT_BYTES),
                    MemoryOutputPipe::new(CAPTURE_LIMIT_BYTES),
                );
                wasi.stdin(MemoryInputPipe::new(stdin.clone()))
                    .stdout(out.clone())
                    .stderr(err.clone());
                Some((out, err))
            }
        };
        // wasm32's whole address space: `lua` has no heap limit either.
        let mut state = HostState::new(self.services.clone(), 1 << 32);
        state.wasi = wasi.build_p1();
        let mut store = Store::new(&self.engine, state);
        store.limiter(|state| &mut state.limiter);
        let result = self.start(&mut store, script_index);
        let exit_code = match result {
            Ok(code) => code,
            Err(err) => match err.downcast_ref::<I32Exit>() {
                Some(exit) => exit.0,
                None => {
                    let message = match err.downcast_ref::<Trap>() {
                        Some(trap) => trap.to_string(),
                        None => format!("{err:#}"),
                    };
                    return Err(RunError::Trap { message });
                }
            },
        };
        let (stdout, stderr) = match captured {
            Some((out, err)) => (out.contents().to_vec(), err.contents().to_vec()),
            None => (Vec::new(), Vec::new()),
        };
        Ok(RunOutcome {
            exit_code,
            stdout,
            stderr,
        })
    }

    fn start(&self, store: &mut Store<HostState>, script_index: i32) -> wasmtime::Result<i32> {
        let instance = self.instance_pre.instantiate(&mut *store)?;
        store.data_mut().memory = instance.get_memory(&mut *store, "memory");
        instance
            .get_typed_func::<(), ()>(&mut *store, "_initialize")?
            .call(&mut *store, ())?;
        let main = instance.get_typed_func::<i32, i32>(&mut *store, "bext_full_main")?;
        main.call(&mut *store, script_index)
    }
}

/// A folder of its own under the system's temporary folder, removed (with
/// what the program left in it) when dropped.
struct PrivateTmp(PathBuf);

impl PrivateTmp {
    fn create() -> Result<Self, RunError> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let base = std::env::temp_dir();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let mut last_error = None;
        for _ in 0..16 {
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let path = base.join(format!("bext-lua-{}-{n}-{nanos:08x}", std::process::id()));
            match std::fs::create_dir(&path) {
                Ok(()) => return Ok(PrivateTmp(path)),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last_error = Some(e),
                Err(e) => {
                    return Err(RunError::Folder {
                        path,
                        message: format!("creating the private temporary folder: {e}"),
                    });
                }
            }
        }
        Err(RunError::Folder {
            path: base,
            message: format!(
                "no unique private temporary folder: {}",
                last_error.map(|e| e.to_string()).unwrap_or_default()
            ),
        })
    }
}

impl Drop for PrivateTmp {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir_all(&self.0) {
            tracing::warn!(target: "bext_lua", "could not remove {}: {e}", self.0.display());
        }
    }
}
