//! The build recipe for stock Lua 5.4 on `wasm32-wasip1`.
//!
//! The Lua sources are the unmodified Lua 5.4.9 shipped by the crates.io
//! [`lua_src`] crate, compiled through its own `Build` API, so they are found
//! wherever cargo put them (registry, `cargo vendor`, a custom `CARGO_HOME`).
//! Everything this project changes about Lua goes through compile flags and
//! the two headers in `include/`; this crate owns all of them:
//!
//! | what | why |
//! |---|---|
//! | `clang-22`, `llvm-ar-22` | Debian's clang knows `wasm32-wasip1`; Rust's `rust-lld` links |
//! | `-isystem /usr/include/wasm32-wasi` | Debian's wasi-libc headers (`WASI_SYSROOT` does not fit its layout); Rust's self-contained `libc.a` is the libc |
//! | `-mllvm -wasm-enable-sjlj -mllvm -wasm-use-legacy-eh=false` | Lua's `setjmp`/`longjmp` error handling becomes wasm exception handling (added by lua-src's WASI branch for Lua, by [`Artifacts::c_build`] for our own C) |
//! | `include/setjmp.h` + `c/sjlj_runtime.c` (`libsetjmp.a`) | neither libc ships `setjmp.h` or the lowering's runtime helpers |
//! | `c/emulated_signal.c` (`libwasi-emulated-signal.a`) | lua-src asks to link it; only the standalone `lua.c` (not built) uses signals |
//! | `-include include/bext_lua_port.h` + `c/lua_port.c` | string-hash seed from the host's CSPRNG instead of `time(NULL)` |
//! | `-flto -mexception-handling`, and the linker arguments of [`LTO_LINK_ARGS`] | Lua and the shim optimised as one program when the guest is linked (the CPU set ran 15-20% faster; benches/RESULTS.md); the setjmp lowering then runs in the linker |
//!
//! A consumer's `build.rs` is three lines:
//!
//! ```no_run
//! let lua = lua_wasm_build::Build::new().try_build().expect("building Lua for wasm32-wasip1");
//! lua.print_cargo_metadata();
//! lua.c_build().file("c/shim.c").compile("shim");
//! ```
#![deny(unsafe_op_in_unsafe_fn)]

use std::env;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The only target this recipe knows.
pub const TARGET: &str = "wasm32-wasip1";

/// Flags that make LLVM lower `setjmp`/`longjmp` to wasm exception handling.
/// lua-src adds them to the Lua build itself; LLVM rejects an `-mllvm` option
/// given twice, so they are passed to our own C only, never through `CFLAGS`.
const SJLJ_FLAGS: [&str; 6] = [
    "-mllvm",
    "-wasm-enable-sjlj",
    "-mllvm",
    "-wasm-use-legacy-eh=false",
    "-mllvm",
    "-wasm-enable-eh",
];

/// Link-time optimisation: every C file of the guest (Lua's and ours) is
/// compiled to LLVM bitcode, and code generation happens when the guest is
/// linked. `-mexception-handling` records on each function that it may use
/// wasm exceptions, which the setjmp lowering needs at link time.
const LTO_CFLAGS: [&str; 2] = ["-flto", "-mexception-handling"];

/// With LTO the code generator runs in the linker (rust-lld), so the
/// setjmp/longjmp lowering must be asked of it there: the `-mllvm` options
/// of [`SJLJ_FLAGS`] (passed before these) plus the exception model, which clang sets by itself
/// but the linker does not (without it `setjmp` silently folds to 0 and
/// every Lua error escapes as an uncaught exception). The lowering adds
/// calls to its runtime helpers after the link has picked its archive
/// members, so `-u` keeps them in (`c/sjlj_runtime.c`, compiled without
/// LTO for the same reason).
pub const LTO_LINK_ARGS: [&str; 5] = [
    "-mllvm",
    "-exception-model=wasm",
    "-u__wasm_setjmp",
    "-u__wasm_setjmp_test",
    "-u__wasm_longjmp",
];

/// Where this crate's own headers and C files live (survives vendoring: it is
/// this package's directory wherever cargo unpacked it).
fn port_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Error from [`Build::try_build`].
#[derive(Debug)]
pub struct BuildError(String);

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BuildError {}

/// Configures the Lua build. Defaults come from the build-script environment.
#[derive(Debug, Clone)]
pub struct Build {
    out_dir: Option<PathBuf>,
    target: Option<String>,
    opt_level: String,
    compiler: String,
    archiver: String,
    wasi_include: PathBuf,
}

impl Default for Build {
    fn default() -> Self {
        Self::new()
    }
}

impl Build {
    /// A build for `$TARGET` into `$OUT_DIR`, with `-O2`, `clang-22`,
    /// `llvm-ar-22` and Debian's wasi-libc headers. `CC_wasm32_wasip1`,
    /// `AR_wasm32_wasip1` and `BEXT_WASI_INCLUDE` override the tools.
    pub fn new() -> Self {
        Build {
            out_dir: env::var_os("OUT_DIR").map(PathBuf::from),
            target: env::var("TARGET").ok(),
            // -O3, -mtail-call and -msimd128 measured within 2% of -O2 here.
            opt_level: "2".into(),
            compiler: env::var("CC_wasm32_wasip1").unwrap_or_else(|_| "clang-22".into()),
            archiver: env::var("AR_wasm32_wasip1").unwrap_or_else(|_| "llvm-ar-22".into()),
            wasi_include: env::var_os("BEXT_WASI_INCLUDE")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("/usr/include/wasm32-wasi")),
        }
    }

    /// Output directory (required outside a build script).
    pub fn out_dir(&mut self, dir: impl AsRef<Path>) -> &mut Self {
        self.out_dir = Some(dir.as_ref().to_path_buf());
        self
    }

    /// Target triple (required outside a build script); must be [`TARGET`].
    pub fn target(&mut self, target: &str) -> &mut Self {
        self.target = Some(target.to_string());
        self
    }

    /// C optimisation level (`"0"`..`"3"`, `"s"`, `"z"`). Default `"2"`.
    pub fn opt_level(&mut self, level: &str) -> &mut Self {
        self.opt_level = level.to_string();
        self
    }

    /// Builds Lua and our port libraries.
    ///
    /// Sets `CC_`, `AR_` and `CFLAGS_wasm32_wasip1` in this process's
    /// environment, because that is how the `cc` builder inside lua-src is
    /// configured: call it from a build script, not from a threaded program.
    pub fn try_build(&self) -> Result<Artifacts, BuildError> {
        let target = self
            .target
            .as_deref()
            .ok_or_else(|| BuildError("TARGET is not set".into()))?;
        let out_dir = self
            .out_dir
            .as_ref()
            .ok_or_else(|| BuildError("OUT_DIR is not set".into()))?;
        // One arm per known target, so an unknown one is an error, not a guess.
        match target {
            TARGET => {}
            other => {
                return Err(BuildError(format!(
                    "lua-wasm-build only builds for {TARGET}, not {other}; build the guest with \
                     `cargo build -p guest --target {TARGET}`"
                )));
            }
        }
        self.check_toolchain()?;

        let include = port_dir().join("include");
        let cflags = [
            format!("-isystem{}", self.wasi_include.display()),
            format!("-I{}", include.display()),
            format!("-include{}", include.join("bext_lua_port.h").display()),
        ];
        let existing = env::var("CFLAGS_wasm32_wasip1").unwrap_or_default();
        let cflags_without_lto = format!("{existing} {}", cflags.join(" "));
        let cflags_with_lto = format!("{cflags_without_lto} {}", LTO_CFLAGS.join(" "));
        // SAFETY: build scripts are single-threaded; `try_build` documents
        // that it is for build scripts only.
        unsafe {
            env::set_var("CC_wasm32_wasip1", &self.compiler);
            env::set_var("AR_wasm32_wasip1", &self.archiver);
            env::set_var("CFLAGS_wasm32_wasip1", cflags_with_lto.trim());
        }

        let lua = lua_src::Build::new()
            .target(target)
            .host(&env::var("HOST").unwrap_or_else(|_| target.to_string()))
            .out_dir(out_dir.join("lua"))
            .opt_level(&self.opt_level)
            // LUA_USE_APICHECK asserts abort the instance; the shim is tested instead.
            .debug(false)
            .try_build(lua_src::Lua54)
            .map_err(|e| BuildError(format!("building Lua 5.4 from lua-src: {e}")))?;

        let port_lib_dir = out_dir.join("lua-port");
        let artifacts = Artifacts {
            lua,
            port_include: include,
            port_lib_dir,
            compiler: self.compiler.clone(),
            archiver: self.archiver.clone(),
            opt_level: self.opt_level.clone(),
        };
        let c_dir = port_dir().join("c");
        for (lib, file, lto) in [
            ("setjmp", "sjlj_runtime.c", false),
            ("wasi-emulated-signal", "emulated_signal.c", true),
            ("bext_lua_port", "lua_port.c", true),
        ] {
            // cc reads the flags from the environment after the builder's
            // own, so `-fno-lto` would not win: the setjmp runtime (see
            // `LTO_LINK_ARGS`) is compiled with the flags minus LTO.
            let flags = if lto {
                &cflags_with_lto
            } else {
                &cflags_without_lto
            };
            // SAFETY: as above, a build script's single thread.
            unsafe { env::set_var("CFLAGS_wasm32_wasip1", flags.trim()) };
            let compiled = artifacts
                .c_build()
                .cargo_metadata(false)
                .out_dir(&artifacts.port_lib_dir)
                .file(c_dir.join(file))
                .try_compile(lib);
            // SAFETY: as above.
            unsafe { env::set_var("CFLAGS_wasm32_wasip1", cflags_with_lto.trim()) };
            compiled.map_err(|e| BuildError(format!("compiling {file}: {e}")))?;
        }
        Ok(artifacts)
    }

    fn check_toolchain(&self) -> Result<(), BuildError> {
        const HINT: &str = "install the guest toolchain: `apt-get install clang-22 llvm-22 wasi-libc` \
                            and `rustup target add wasm32-wasip1` (scripts/bootstrap does both)";
        for tool in [&self.compiler, &self.archiver] {
            if Command::new(tool).arg("--version").output().is_err() {
                return Err(BuildError(format!("`{tool}` not found; {HINT}")));
            }
        }
        if !self.wasi_include.join("stdlib.h").exists() {
            return Err(BuildError(format!(
                "wasi-libc headers not found in {}; {HINT}",
                self.wasi_include.display()
            )));
        }
        Ok(())
    }
}

/// What [`Build::try_build`] produced.
#[derive(Debug, Clone)]
pub struct Artifacts {
    lua: lua_src::Artifacts,
    port_include: PathBuf,
    port_lib_dir: PathBuf,
    compiler: String,
    archiver: String,
    opt_level: String,
}

impl Artifacts {
    /// Lua's public headers (`lua.h`, `lauxlib.h`, `lualib.h`, `luaconf.h`).
    pub fn lua_include_dir(&self) -> &Path {
        self.lua.include_dir()
    }

    /// A `cc::Build` for C code that calls the Lua API (the guest's shim):
    /// same compiler, flags, headers and setjmp lowering as Lua itself.
    pub fn c_build(&self) -> cc::Build {
        let mut build = cc::Build::new();
        build
            .target(TARGET)
            .compiler(&self.compiler)
            .archiver(&self.archiver)
            .opt_level_str(&self.opt_level)
            .include(self.lua.include_dir())
            .include(&self.port_include)
            .flag("-fno-common");
        for flag in SJLJ_FLAGS {
            build.flag(flag);
        }
        build
    }

    /// Tells cargo to link Lua and the port libraries, and to rebuild when
    /// this recipe's headers or C files change.
    pub fn print_cargo_metadata(&self) {
        self.lua.print_cargo_metadata();
        println!(
            "cargo:rustc-link-search=native={}",
            self.port_lib_dir.display()
        );
        println!("cargo:rustc-link-lib=static:-bundle=bext_lua_port");
        for arg in SJLJ_FLAGS.iter().chain(&LTO_LINK_ARGS) {
            println!("cargo:rustc-cdylib-link-arg={arg}");
        }
        for dir in ["include", "c"] {
            println!("cargo:rerun-if-changed={}", port_dir().join(dir).display());
        }
        for var in ["CC_wasm32_wasip1", "AR_wasm32_wasip1", "BEXT_WASI_INCLUDE"] {
            println!("cargo:rerun-if-env-changed={var}");
        }
    }
}
