//! A hostile guest: a wasm module that implements the plugin ABI like a guest
//! whose Lua VM was compromised (`tests/wat/hostile.wat`, driven by a "tape"
//! passed as the plugin's source). It returns out-of-bounds pointers, huge
//! and negative lengths, invalid UTF-8 and unknown codes, and calls the host's
//! imports with garbage. The host must answer every one of them with a typed
//! error naming the plugin, never panic, hang, exit or read outside the
//! guest's memory, and keep serving other plugins.

use crate::common::*;
use bext_plugin_api::middleware::{RequestAction, ResponseHeaders};
use bext_plugin_lua_wasm::{
    ColdStart, Error, LuaPlugin, LuaPluginConfig, LuaPluginRuntime, LuaRuntimeConfig,
    LuaSandboxLimits,
};
use std::sync::OnceLock;
use std::time::Duration;

const HOSTILE_WAT: &str = include_str!("../wat/hostile.wat");

/// An honest entry: input buffer at 0x1000 (ignored by `bext_load`), no
/// action, status ok, output slot 256 = nil (continue). A tape of it alone
/// cycles: every load and call is honest.
const HONEST: &str = "4096 0 0 256 0 0 0 0 ";

fn hostile_runtime() -> &'static LuaPluginRuntime {
    static RT: OnceLock<LuaPluginRuntime> = OnceLock::new();
    RT.get_or_init(|| {
        let wasm = wat::parse_str(HOSTILE_WAT).expect("hostile.wat");
        LuaPluginRuntime::with_guest_module(LuaRuntimeConfig::default(), &wasm).unwrap()
    })
}

fn limits() -> LuaSandboxLimits {
    LuaSandboxLimits::default()
        .fuel_per_call(2_000_000)
        .timeout_ms(5_000)
        .max_heap_bytes(1 << 20)
}

/// Sandboxes of the hostile guest load the tape from source: a fork copies
/// memory pages, not wasm globals, and this guest keeps its tape cursor in a
/// global (the real guest keeps all its state in memory; its one mutable
/// global, the stack pointer, is balanced between entries). Loading from
/// source makes every rebuilt sandbox replay the tape from the start.
fn load_tape(name: &str, tape: &str) -> Result<LuaPlugin, Error> {
    load_tape_in(hostile_runtime(), name, tape)
}

/// [`load_tape`] in `runtime` (a variant of the hostile guest).
fn load_tape_in(runtime: &LuaPluginRuntime, name: &str, tape: &str) -> Result<LuaPlugin, Error> {
    runtime.load_plugin(
        LuaPluginConfig::new(name, manifest(name), tape)
            .limits(limits())
            .cold_start(ColdStart::Source),
    )
}

/// `loaded` failed with an ABI error naming `name` and the load, whose
/// message contains `expected`.
fn assert_load_refused(name: &str, loaded: Result<LuaPlugin, Error>, expected: &str) {
    match loaded {
        Err(Error::Abi {
            plugin,
            method,
            message,
        }) => {
            assert_eq!((plugin.as_str(), method.as_str()), (name, "load"));
            assert!(message.contains(expected), "{name}: {message}");
        }
        other => panic!("{name}: {other:?}"),
    }
}

fn on_request(plugin: &LuaPlugin) -> Result<RequestAction, Error> {
    plugin.try_on_request(&mut request("GET", "/", &[("x-tenant", "a")]))
}

/// A plugin of the hostile runtime that stays honest: it must keep serving.
fn bystander() -> &'static LuaPlugin {
    static P: OnceLock<LuaPlugin> = OnceLock::new();
    P.get_or_init(|| load_tape("hostile-bystander", HONEST).unwrap())
}

/// A Lua plugin in another runtime of the same process: it must keep serving.
fn lua_bystander() -> &'static LuaPlugin {
    static P: OnceLock<LuaPlugin> = OnceLock::new();
    P.get_or_init(|| {
        load(
            "lua-bystander",
            "return { on_request = function(self, ctx) return bext.middleware_continue() end }",
        )
        .unwrap()
    })
}

fn others_keep_serving() {
    assert!(matches!(
        on_request(bystander()),
        Ok(RequestAction::Continue)
    ));
    assert!(matches!(
        on_request(lua_bystander()),
        Ok(RequestAction::Continue)
    ));
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    /// `Error::Abi` whose message contains the text.
    Abi(&'static str),
    MemoryLimit,
    OutOfFuel,
    StackOverflow,
    /// `Error::Trap` whose message contains the text.
    Trap(&'static str),
    /// A non-trapping error (the sandbox is kept), by its Display text.
    Error(&'static str),
    /// The hostile call changed nothing the host can see.
    Continue,
}

/// Runs `call` (the tape of one call after an honest load) and checks what
/// the host made of it, then that the plugin keeps answering the same way (a
/// trap replays the tape in a fresh sandbox) or honestly (no trap: the tape
/// goes on), and that other plugins keep serving.
fn check(name: &str, call: &str, expect: Expect) {
    let plugin = load_tape(name, &format!("{HONEST}{call}{HONEST}")).unwrap();
    let first = on_request(&plugin);
    let matches = |result: &Result<RequestAction, Error>| match (expect, result) {
        (Expect::Abi(text), Err(Error::Abi { message, .. })) => message.contains(text),
        (Expect::MemoryLimit, Err(Error::MemoryLimit { limit_bytes, .. })) => {
            *limit_bytes == 1 << 20
        }
        (Expect::OutOfFuel, Err(Error::OutOfFuel { fuel_limit, .. })) => *fuel_limit == 2_000_000,
        (Expect::StackOverflow, Err(Error::StackOverflow { .. })) => true,
        (Expect::Trap(text), Err(Error::Trap { message, .. })) => message.contains(text),
        (Expect::Error(text), Err(e)) => !e.is_trap() && e.to_string().contains(text),
        (Expect::Continue, Ok(RequestAction::Continue)) => true,
        _ => false,
    };
    assert!(
        matches(&first),
        "{name}: expected {expect:?}, got {first:?}"
    );
    if let Err(e) = &first {
        assert_eq!(e.plugin(), Some(name), "{e}");
        assert!(
            e.to_string().starts_with(&format!("lua plugin `{name}`")),
            "{e}"
        );
    }
    let trapped = first.as_ref().is_err_and(Error::is_trap);
    let second = on_request(&plugin);
    if trapped {
        assert!(
            matches(&second),
            "{name}: the rebuilt sandbox replays the tape: {second:?}"
        );
        // The first sandbox, then one replacement after each of the two
        // trapping calls (the pool refills eagerly to its size).
        assert_eq!(
            plugin.stats().instances_created,
            3,
            "{name}: {:?}",
            plugin.stats()
        );
    } else {
        assert!(
            matches!(second, Ok(RequestAction::Continue)),
            "{name}: after {first:?}: {second:?}"
        );
        assert_eq!(plugin.stats().instances_created, 1);
    }
    others_keep_serving();
}

#[test]
fn out_of_bounds_and_overflowing_input_buffers() {
    check(
        "input-oob",
        "4294967295 ",
        Expect::Abi("input buffer 0xffffffff"),
    );
    check(
        "input-max-signed",
        "2147483647 ",
        Expect::Abi("outside guest memory"),
    );
    // 'E' is the tape's "memory size - 8": the input would run past the end.
    check("input-at-the-end", "E", Expect::Abi("outside guest memory"));
    check(
        "input-at-memory-size",
        "M",
        Expect::Abi("outside guest memory"),
    );
    // A null buffer is how the honest guest says its heap is full.
    check("input-null", "0 ", Expect::MemoryLimit);
}

#[test]
fn unknown_negative_and_misplaced_statuses() {
    check(
        "status-unknown",
        "4096 0 99 256 0 0 0 0 ",
        Expect::Abi("unknown status code 99"),
    );
    check(
        "status-negative",
        "4096 0 4294967295 256 0 0 0 0 ",
        Expect::Abi("unknown status code -1"),
    );
    check(
        "status-not-ready",
        "4096 0 6 256 0 0 0 0 ",
        Expect::Abi("unexpected status NotReady"),
    );
    check(
        "status-syntax",
        "4096 0 2 256 0 0 0 0 ",
        Expect::Abi("unexpected status Syntax"),
    );
    check(
        "status-bad-input",
        "4096 0 7 256 0 0 0 0 ",
        Expect::Abi("unexpected status BadInput"),
    );
    // Status "Lua ran out of memory" is believed: the instance is discarded.
    check(
        "status-memory",
        "4096 0 3 256 0 0 0 0 ",
        Expect::MemoryLimit,
    );
    // Status "no such method" is believed too, and harmless.
    check(
        "status-no-method",
        "4096 0 5 256 4 0 0 0 ",
        Expect::Error("defines no method `on_request`"),
    );
}

/// The host reads the output slot `bext_output` reported when the instance
/// was made, wherever the guest writes later: a guest cannot move it.
#[test]
fn a_guest_cannot_move_its_output_slot() {
    // The second call writes a string at 512 and leaves the slot (0x100)
    // as the first call left it: nil, so the request continues.
    let moved = "4096 0 0 512 4 768 21 0 ";
    let plugin = load_tape("slot-moved", &format!("{HONEST}{HONEST}{moved}{HONEST}")).unwrap();
    for call in 1..=3 {
        assert!(
            matches!(on_request(&plugin), Ok(RequestAction::Continue)),
            "call {call}"
        );
    }
}

/// A guest whose output slot lies outside its memory fails when a sandbox
/// is made, with a typed error naming the plugin.
#[test]
fn output_slots_out_of_bounds() {
    // The slot bext_output reports is the hostile guest's initial `$slot`;
    // its memory is one page (0x10000 bytes).
    let honest_slot = "(global $slot (mut i32) (i32.const 0x100))";
    assert!(HOSTILE_WAT.contains(honest_slot));
    for (name, slot, expected) in [
        (
            "slot-oob",
            "0xffffffff",
            "the output slot: guest buffer 0xffffffff+32",
        ),
        ("slot-straddles-the-end", "0xfff0", "lies outside"),
        ("slot-at-memory-size", "0x10000", "lies outside"),
    ] {
        let wat = HOSTILE_WAT.replace(
            honest_slot,
            &format!("(global $slot (mut i32) (i32.const {slot}))"),
        );
        let wasm = wat::parse_str(&wat).expect("hostile.wat");
        let runtime =
            LuaPluginRuntime::with_guest_module(LuaRuntimeConfig::default(), &wasm).unwrap();
        assert_load_refused(name, load_tape_in(&runtime, name, HONEST), expected);
    }
    others_keep_serving();
}

#[test]
fn unknown_kinds_huge_negative_lengths_and_bad_pointers_in_the_output() {
    check(
        "kind-unknown",
        "4096 0 0 256 9 0 0 0 ",
        Expect::Abi("unknown output kind 9"),
    );
    check(
        "kind-negative",
        "4096 0 0 256 4294967295 0 0 0 ",
        Expect::Abi("unknown output kind 4294967295"),
    );
    check(
        "string-ptr-oob",
        "4096 0 0 256 4 4294967295 1 0 ",
        Expect::Abi("guest buffer 0xffffffff+1"),
    );
    check(
        "string-len-huge",
        "4096 0 0 256 4 0 4294967295 0 ",
        Expect::Abi("0x0+4294967295"),
    );
    check(
        "string-len-negative",
        "4096 0 0 256 4 4096 4294967292 0 ",
        Expect::Abi("lies outside"),
    );
    check(
        "string-past-the-end",
        "4096 0 0 256 4 4096 M0 ",
        Expect::Abi("lies outside"),
    );
    check(
        "string-ptr-plus-len-wraps",
        "4096 0 0 256 4 4294967295 4294967295 0 ",
        Expect::Abi("lies outside"),
    );
    check(
        "type-name-oob",
        "4096 0 0 256 5 4294967295 4 0 ",
        Expect::Abi("lies outside"),
    );
    // A type name is read up to 64 bytes, whatever length the guest claims.
    check(
        "type-name-huge",
        "4096 0 0 256 5 768 4294967295 0 ",
        Expect::Error("it returned a HOSTILE-GUEST-STDOUT!"),
    );
    check(
        "error-message-oob",
        "4096 0 1 256 4 4294967295 16 0 ",
        Expect::Abi("lies outside"),
    );
}

#[test]
fn invalid_utf8_is_an_error_not_trusted() {
    // As a result: a typed bad-envelope error; the sandbox is kept.
    check(
        "utf8-result",
        "4096 0 0 256 4 896 3 0 ",
        Expect::Error("not valid UTF-8"),
    );
    // As an error message: replaced, not trusted.
    check(
        "utf8-error",
        "4096 0 1 256 4 896 3 0 ",
        Expect::Error("on_request: \u{fffd}\u{fffd}\u{fffd}"),
    );
    // In a log line: replaced, and the call goes on.
    check(
        "utf8-log",
        "4096 1 2 896 3 0 0 256 0 0 0 0 ",
        Expect::Continue,
    );
}

#[test]
fn garbage_arguments_to_bext_imports() {
    check(
        "log-oob",
        "4096 1 0 4294967295 8 0 0 256 0 0 0 0 ",
        Expect::Abi("guest buffer 0xffffffff+8"),
    );
    check(
        "log-huge",
        "4096 1 0 0 4294967295 0 0 256 0 0 0 0 ",
        Expect::Abi("lies outside"),
    );
    check(
        "log-unknown-level",
        "4096 1 4294967295 768 21 0 0 256 0 0 0 0 ",
        Expect::Continue,
    );
    check(
        "metric-name-oob",
        "4096 2 4294967295 4 0 0 0 0 0 256 0 0 0 0 ",
        Expect::Abi("lies outside"),
    );
    check(
        "metric-tags-oob",
        "4096 2 768 4 1 4096 4294967295 0 0 256 0 0 0 0 ",
        Expect::Abi("lies outside"),
    );
    // Tags that are not JSON: the import reports it, the guest ignores it.
    check(
        "metric-tags-garbage",
        "4096 2 768 4 1 896 3 0 0 256 0 0 0 0 ",
        Expect::Continue,
    );
    check(
        "event-unknown-kind",
        "4096 3 77 768 4 768 4 0 0 256 0 0 0 0 ",
        Expect::Abi("unknown event kind 77"),
    );
    check(
        "event-oob",
        "4096 3 1 768 4 4294967295 4294967295 0 0 256 0 0 0 0 ",
        Expect::Abi("lies outside"),
    );
    check(
        "heap-exhausted",
        "4096 10 4294967295 0 0 256 0 0 0 0 ",
        Expect::MemoryLimit,
    );
}

#[test]
fn garbage_arguments_to_wasi_imports() {
    // WASI answers with an errno (the call goes on) or, for pointers it
    // cannot follow, fails the call; either way nothing outside the guest's
    // memory is touched and nothing is granted.
    let oob = Expect::Trap("Pointer out of bounds");
    let garbage = [
        (
            "fd-write-oob",
            "4 1 4294967295 4294967295 4294967295 ",
            Expect::Continue,
        ),
        ("fd-write-bad-fd", "4 77 512 1 528 ", Expect::Continue),
        (
            "fd-read-stdin",
            "15 0 0 4294967295 4294967295 0 512 1 528 ",
            Expect::Continue,
        ),
        ("random-get-oob", "5 4294967295 16 ", oob),
        (
            "random-get-huge",
            "5 0 4294967295 ",
            Expect::Trap("exceeds limit"),
        ),
        (
            "random-get-wraps",
            "5 4294967295 4294967295 ",
            Expect::Trap("exceeds limit"),
        ),
        ("path-open", "13 768 21 528 ", Expect::Continue),
        (
            "path-open-oob",
            "13 4294967295 4294967295 4294967295 ",
            Expect::Continue,
        ),
        (
            "environ-and-args",
            "14 528 532 4294967295 4294967295 528 4096 ",
            oob,
        ),
        ("environ-oob", "14 4294967295 4 ", oob),
        (
            "clock-garbage",
            "15 99 4294967295 4294967295 4294967295 0 0 0 0 ",
            Expect::Trap("Invalid enum value"),
        ),
        ("clock-oob", "15 1 4294967295 ", oob),
        ("memory-grow-huge", "8 4294967295 ", Expect::Continue),
        ("memory-grow-past-the-limit", "8 100 ", Expect::Continue),
    ];
    for (name, actions, expect) in garbage {
        check(name, &format!("4096 {actions}0 0 256 0 0 0 0 "), expect);
    }
    // Growing memory past max_heap_bytes fails inside the guest, it does
    // not abort anything: here 16 pages (1 MiB) are the limit.
    check(
        "memory-grow-to-the-limit",
        "4096 8 15 0 0 256 0 0 0 0 ",
        Expect::Continue,
    );
}

#[test]
fn traps_exits_and_runaways_are_contained() {
    check("unreachable", "4096 6 ", Expect::Trap("unreachable"));
    check("infinite-loop", "4096 7 ", Expect::OutOfFuel);
    check("recursion", "4096 9 ", Expect::StackOverflow);
    // proc_exit ends the guest's call, never the host process.
    check("proc-exit", "4096 11 0 ", Expect::Trap("exit status 0"));
    check(
        "proc-exit-failure",
        "4096 11 70 ",
        Expect::Trap("exit status 70"),
    );
}

#[test]
fn poll_oneoff_cannot_park_a_host_thread() {
    // A clock subscription asking to sleep for an hour. Under stock
    // wasmtime-wasi this sleeps the calling host thread out of reach of the
    // epoch deadline; the sandbox answers ENOSYS at once.
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        check(
            "poll-oneoff-sleep",
            "4096 12 1024 1536 1 1552 0 0 256 0 0 0 0 ",
            Expect::Continue,
        );
        check(
            "poll-oneoff-garbage",
            "4096 12 4294967295 4294967295 4294967295 4294967295 0 0 256 0 0 0 0 ",
            Expect::Continue,
        );
        let _ = done.send(());
    });
    // Generous: this is a hang detector, not a timing measurement.
    finished
        .recv_timeout(Duration::from_secs(120))
        .expect("poll_oneoff blocked the host thread");
}

#[test]
fn hostile_answers_while_loading_fail_the_load() {
    for (name, tape, expected) in [
        (
            "load-status-unknown",
            "0 0 12345 256 0 0 0 0 ",
            "unknown status code 12345",
        ),
        (
            "load-not-ready",
            "0 0 6 256 4 768 21 0 ",
            "status NotReady: HOSTILE-GUEST-STDOUT!",
        ),
    ] {
        assert_load_refused(name, load_tape(name, tape), expected);
        assert!(hostile_runtime().plugin(name).is_none());
    }
    match load_tape("load-trap", "0 6 ") {
        Err(Error::Trap { plugin, method, .. }) => {
            assert_eq!((plugin.as_str(), method.as_str()), ("load-trap", "load"))
        }
        other => panic!("{other:?}"),
    }
    match load_tape("load-syntax", "0 0 2 256 4 4294967295 4 0 ") {
        Err(Error::Abi { message, .. }) => assert!(message.contains("lies outside"), "{message}"),
        other => panic!("{other:?}"),
    }
    others_keep_serving();
}

#[test]
fn methods_the_guest_does_not_declare_are_never_called() {
    // describe reports no methods, so the host never calls on_response
    // (which would trap here).
    let plugin = load_tape("hostile-on-response", &format!("{HONEST}4096 6 ")).unwrap();
    let mut response = ResponseHeaders {
        status: 200,
        headers: vec![],
    };
    plugin
        .try_on_response(&request("GET", "/", &[]), &mut response)
        .unwrap();
    assert_eq!(plugin.stats().calls, 0);
}

#[test]
fn a_guest_speaking_another_abi_version_or_missing_exports_is_refused() {
    let wasm = wat::parse_str(HOSTILE_WAT.replace(
        r#"(func (export "bext_abi_version") (result i32) (i32.const 2))"#,
        r#"(func (export "bext_abi_version") (result i32) (i32.const 7))"#,
    ))
    .unwrap();
    let rt = LuaPluginRuntime::with_guest_module(LuaRuntimeConfig::default(), &wasm).unwrap();
    match rt.load_plugin(LuaPluginConfig::new("v7", manifest("v7"), HONEST)) {
        Err(Error::Trap {
            plugin, message, ..
        }) => {
            assert_eq!(plugin, "v7");
            assert!(
                message.contains("guest speaks ABI version 7, host speaks 2"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
    let wasm = wat::parse_str(
        HOSTILE_WAT.replace(r#"(export "bext_output")"#, r#"(export "bext_output_")"#),
    )
    .unwrap();
    let rt = LuaPluginRuntime::with_guest_module(LuaRuntimeConfig::default(), &wasm).unwrap();
    match rt.load_plugin(LuaPluginConfig::new(
        "no-output",
        manifest("no-output"),
        HONEST,
    )) {
        Err(Error::Trap {
            plugin, message, ..
        }) => {
            assert_eq!(plugin, "no-output");
            assert!(message.contains("bext_output"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    // A module whose imports the host does not provide cannot even make a runtime.
    let wasm = wat::parse_str(
        r#"(module (import "env" "system" (func (param i32))) (memory (export "memory") 1))"#,
    )
    .unwrap();
    match LuaPluginRuntime::with_guest_module(LuaRuntimeConfig::default(), &wasm) {
        Err(Error::Engine { message, .. }) => assert!(message.contains("env"), "{message}"),
        other => panic!("{other:?}"),
    }
}

/// Guest standard output and error never reach the host's: run in a child
/// process (this test binary again), whose real stdout and stderr are read.
#[test]
fn guest_output_never_reaches_the_hosts_stdout_or_stderr() {
    const CHILD: &str = "BEXT_HOSTILE_STDIO_CHILD";
    if std::env::var_os(CHILD).is_some() {
        // fd_write of the marker to stdout and stderr, at load and per call.
        let plugin = load_tape("stdio-writer", "4096 16 1 16 2 0 0 256 0 0 0 0 ").unwrap();
        for _ in 0..3 {
            assert!(matches!(on_request(&plugin), Ok(RequestAction::Continue)));
        }
        let lua = load(
            "lua-printer",
            r#"print("LUA-PRINT-" .. "MARKER")
            return { on_request = function(self, ctx) print("LUA-PRINT-" .. "MARKER") end }"#,
        )
        .unwrap();
        lua.try_on_request(&mut request("GET", "/", &[])).unwrap();
        println!("child done");
        return;
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "hostile_guest::guest_output_never_reaches_the_hosts_stdout_or_stderr",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, "1")
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "child failed:\n{stdout}\n{stderr}");
    assert!(
        stdout.contains("child done"),
        "the child did not run the test:\n{stdout}"
    );
    for marker in ["HOSTILE-GUEST-STDOUT!", "LUA-PRINT-MARKER"] {
        assert!(
            !stdout.contains(marker) && !stderr.contains(marker),
            "{marker} leaked:\n{stdout}\n{stderr}"
        );
    }
}

/// wasmtime-wasi links its preview-1 file functions for synchronous calls by
/// blocking on tokio (`in_tokio`), which panics on a runtime's worker
/// thread. A guest calling them from the async API, on a tokio worker as
/// every async server does, must get the same answers as a synchronous
/// call (an errno, nothing granted), never a panic in the embedder's task.
#[test]
fn wasi_file_calls_through_the_async_api_on_a_tokio_worker() {
    let executor = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let calls = [
        ("async-fd-write-bad-fd", "4 77 512 1 528 "),
        ("async-fd-write-stdout", "16 1 "),
        (
            "async-fd-read-stdin",
            "15 0 0 4294967295 4294967295 0 512 1 528 ",
        ),
        ("async-path-open", "13 768 21 528 "),
    ];
    for (name, actions) in calls {
        let plugin = load_tape(
            name,
            &format!("{HONEST}4096 {actions}0 0 256 0 0 0 0 {HONEST}"),
        )
        .unwrap();
        let task = executor.spawn(async move {
            let first = plugin
                .try_on_request_async(&mut request("GET", "/", &[]))
                .await;
            let second = plugin
                .try_on_request_async(&mut request("GET", "/", &[]))
                .await;
            (first, second)
        });
        let (first, second) = executor
            .block_on(task)
            .unwrap_or_else(|e| panic!("{name}: the call panicked the task: {e}"));
        assert!(
            matches!(first, Ok(RequestAction::Continue)),
            "{name}: {first:?}"
        );
        assert!(
            matches!(second, Ok(RequestAction::Continue)),
            "{name}: {second:?}"
        );
    }
    others_keep_serving();
}
