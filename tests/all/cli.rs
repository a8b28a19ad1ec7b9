//! The `bext-lua` binary: `run` behaves like `lua` (files in a temporary
//! folder, `arg`, errors, `os.exit`), and `check`, `try` and `bench` work on
//! the reference plugins in `examples/plugins/`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::common::TempDir;

const BIN: &str = env!("CARGO_BIN_EXE_bext-lua");

fn examples() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/plugins")
}

fn bext_lua(dir: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(BIN)
        .current_dir(dir)
        .args(args)
        .env("BEXT_CLI_TEST", "from-the-environment")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting bext-lua");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

const FILES_SCRIPT: &str = r#"
-- Writes, reads, appends, renames and removes files in the current folder.
local f = assert(io.open("data.txt", "w"))
f:write("line one\n", 2, "\n", 3.5, "\n")
f:close()
local a = assert(io.open("data.txt", "a"))
a:write("appended\n")
a:close()
local lines = {}
for line in io.lines("data.txt") do lines[#lines + 1] = line end
print(#lines, table.concat(lines, "|"))
local r = assert(io.open("data.txt", "rb"))
print(r:read("n"), r:read("l"), r:seek("cur"), r:seek("end"))
r:close()
print(os.rename("data.txt", "renamed.txt"))
print(io.open("data.txt"))
print(os.remove("renamed.txt"), io.open("renamed.txt") == nil)
print(os.remove("no-such-file.txt"))
-- os.tmpname and io.tmpfile work in the private /tmp
local name = os.tmpname()
print(name:match("^/tmp/lua_%w+$") ~= nil)
local t = assert(io.open(name, "w")); t:write("tmp data"); t:close()
print(io.open(name):read("a"), os.remove(name))
local tf = io.tmpfile()
tf:write("in a tmpfile"); tf:seek("set")
print(tf:read("a"), io.type(tf), tf:close(), io.type(tf))
-- require finds Lua modules in the current folder
io.open("helper.lua", "w"):write("return { twice = function(x) return 2 * x end }"):close()
print(require("helper").twice(21), package.cpath == "")
-- the environment, arguments and os.clock
print(os.getenv("BEXT_CLI_TEST"), os.getenv("BEXT_NO_SUCH_VARIABLE"))
print(arg[0], arg[1], arg[2], #arg, ...)
print(math.type(os.clock()), os.clock() >= 0)
-- what stays unsupported
print(pcall(io.popen, "ls"))
print(os.execute())
io.open("result.txt", "w"):write("kept\n"):close()
io.stdout:write("exiting\n")
os.exit(7)
"#;

#[test]
fn run_uses_files_in_the_current_and_temporary_folders_like_lua() {
    let dir = TempDir::new("files");
    dir.write("files.lua", FILES_SCRIPT);
    let out = bext_lua(&dir.0, &["run", "files.lua", "first", "-x"], "");
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(7),
        "stdout:\n{stdout}\nstderr:\n{}",
        text(&out.stderr)
    );
    let expected = "\
4\tline one|2|3.5|appended
nil\tline one\t9\t24
true
nil\tdata.txt: No such file or directory\t2
true\ttrue
nil\tno-such-file.txt: No such file or directory\t2
true
tmp data\ttrue
in a tmpfile\tfile\ttrue\tclosed file
42\ttrue
from-the-environment\tnil
files.lua\tfirst\t-x\t2\tfirst\t-x
float\ttrue
false\tnot supported on WASI
false
exiting
";
    assert_eq!(stdout, expected, "stderr:\n{}", text(&out.stderr));
    assert_eq!(
        std::fs::read_to_string(dir.0.join("result.txt")).unwrap(),
        "kept\n"
    );
    assert!(!dir.0.join("data.txt").exists() && !dir.0.join("renamed.txt").exists());
}

#[test]
fn run_reports_uncaught_errors_with_a_traceback_and_status_1() {
    let dir = TempDir::new("error");
    dir.write(
        "fails.lua",
        "local function inner()\n  error('something broke')\nend\ninner()\nprint('not reached')\n",
    );
    let out = bext_lua(&dir.0, &["run", "fails.lua"], "");
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(out.stdout.is_empty());
    assert!(
        stderr.starts_with("bext-lua: fails.lua:2: something broke\nstack traceback:\n"),
        "{stderr}"
    );
    assert!(stderr.contains("fails.lua:4: in main chunk"), "{stderr}");

    let out = bext_lua(&dir.0, &["run", "missing.lua"], "");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("cannot open missing.lua"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn run_executes_chunks_then_standard_input() {
    let dir = TempDir::new("stdin");
    let out = bext_lua(
        &dir.0,
        &["run", "-e", "x = 40", "-e", "x = x + 1", "-", "a1"],
        "print(x + 1, arg[0], arg[1], ...)",
    );
    assert_eq!(
        text(&out.stdout),
        "42\t-\ta1\ta1\n",
        "{}",
        text(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(0));
    // No script and no -e: the program comes from stdin.
    let out = bext_lua(
        &dir.0,
        &["run"],
        "io.write(string.format('%5.1f|', 3.14159)) os.exit(true)",
    );
    assert_eq!(
        (text(&out.stdout).as_str(), out.status.code()),
        ("  3.1|", Some(0))
    );
    // A failing -e chunk stops the run before the script.
    let out = bext_lua(
        &dir.0,
        &["run", "-e", "error('in chunk')", "-"],
        "print('not reached')",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).starts_with("bext-lua: (command line):1: in chunk"),
        "{}",
        text(&out.stderr)
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn check_lists_the_capabilities_of_every_reference_plugin() {
    for (file, methods) in [
        ("hello.lua", "on_request, on_response"),
        ("ratelimit.lua", "on_request, on_response"),
        ("auth.lua", "on_request"),
        ("security_headers.lua", "on_request, on_response"),
        ("runaway.lua", "on_request"),
    ] {
        let out = bext_lua(
            &examples(),
            &["check", file, "--config", r#"{"limit": 5}"#],
            "",
        );
        let stdout = text(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{file}: {stdout}{}",
            text(&out.stderr)
        );
        assert!(
            stdout.contains(&format!("  methods: {methods}\n")),
            "{file}: {stdout}"
        );
        assert!(
            stdout.contains("  capabilities: middleware\n"),
            "{file}: {stdout}"
        );
    }
}

#[test]
fn check_lists_the_extended_capabilities() {
    // Inferred from the methods: a policy's `evaluate` also fits FeatureFlagPlugin
    // (a manifest declaring `authz_policy` is what settles it).
    for (file, capability) in [
        ("feature_flags.lua", "feature_flag"),
        ("storage.lua", "storage_client"),
        ("authz_policy.lua", "feature_flag, authz_policy"),
    ] {
        let out = bext_lua(&examples(), &["check", file], "");
        let stdout = text(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{file}: {stdout}{}",
            text(&out.stderr)
        );
        assert!(
            stdout.contains(&format!("  capabilities: {capability}\n")),
            "{file}: {stdout}"
        );
    }
}

#[test]
fn check_reports_syntax_errors_and_manifest_mismatches() {
    let dir = TempDir::new("check");
    dir.write(
        "broken.lua",
        "return {\n  on_request = function(self, ctx)\n    return 1 +\n  end,\n}\n",
    );
    let out = bext_lua(&dir.0, &["check", "broken.lua"], "");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("syntax error: broken.lua:4: unexpected symbol near 'end'"),
        "{}",
        text(&out.stderr)
    );

    dir.write(
        "toplevel.lua",
        "local x = nil\nreturn { on_request = x.y }\n",
    );
    let out = bext_lua(&dir.0, &["check", "toplevel.lua"], "");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("toplevel.lua:2: attempt to index a nil value (local 'x')"),
        "{}",
        text(&out.stderr)
    );

    dir.write(
        "cache.lua",
        "return { get = function() end, set = function() end }\n",
    );
    dir.write(
        "m.json",
        r#"{"name":"c","version":"1.0.0","capabilities":["middleware"]}"#,
    );
    let out = bext_lua(&dir.0, &["check", "cache.lua", "--manifest", "m.json"], "");
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains(
            "warning: cache_backend is incomplete: missing delete, invalidate_tag, invalidate_path"
        ),
        "{stdout}"
    );
    assert!(
        stdout
            .contains("error: the manifest declares middleware but the script does not provide it"),
        "{stdout}"
    );

    let manifest = dir.write(
        "ok.json",
        r#"{"name":"sh","version":"2.0.0","capabilities":["middleware"]}"#,
    );
    let plugin = examples().join("security_headers.lua");
    let out = bext_lua(
        &dir.0,
        &[
            "check",
            plugin.to_str().unwrap(),
            "--manifest",
            manifest.to_str().unwrap(),
        ],
        "",
    );
    assert_eq!(out.status.code(), Some(0));
    assert!(
        text(&out.stdout).contains("manifest sh 2.0.0: capabilities match"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn try_prints_actions_logs_metrics_and_fuel() {
    let dir = TempDir::new("try");
    let requests = dir.write(
        "requests.jsonl",
        r#"{"path":"/","peer_ip":"203.0.113.7"}
{"path":"/api","peer_ip":"203.0.113.7","headers":[["accept","text/html"]]}

{"path":"/api","peer_ip":"203.0.113.7","response":{"status":404}}
"#,
    );
    let plugin = examples().join("ratelimit.lua");
    let out = bext_lua(
        &dir.0,
        &[
            "try",
            plugin.to_str().unwrap(),
            "--requests",
            requests.to_str().unwrap(),
            "--config",
            r#"{"limit": 2}"#,
        ],
        "",
    );
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("#1 GET / from 203.0.113.7\n  on_request: continue extensions [(\"ratelimit.remaining\", \"1\")]  [fuel "), "{stdout}");
    assert!(
        stdout.contains("#3 GET /api from 203.0.113.7\n  on_request: respond 429"),
        "{stdout}"
    );
    assert!(
        stdout.contains("    metric: ratelimit.rejected = 1 {peer_ip=203.0.113.7}"),
        "{stdout}"
    );
    assert!(
        stdout.contains("3 requests: 6 calls, 0 errors, 0 traps, 1 sandboxes created"),
        "{stdout}"
    );

    let hello = examples().join("hello.lua");
    let out = bext_lua(
        &dir.0,
        &[
            "try",
            hello.to_str().unwrap(),
            "--requests",
            requests.to_str().unwrap(),
        ],
        "",
    );
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("    log: INFO bext_lua: plugin saw: {\"method\":\"GET\",\"path\":\"/\""),
        "{stdout}"
    );
    assert!(
        stdout.contains("  on_response: status 404 headers []"),
        "{stdout}"
    );

    let runaway = examples().join("runaway.lua");
    let spin = dir.write("spin.jsonl", "{\"path\":\"/spin\"}\n{\"path\":\"/\"}\n");
    let out = bext_lua(
        &dir.0,
        &[
            "try",
            runaway.to_str().unwrap(),
            "--requests",
            spin.to_str().unwrap(),
        ],
        "",
    );
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a failed call makes the status 1: {stdout}"
    );
    assert!(
        stdout.contains("on_request: error: lua plugin") && stdout.contains("ran out of fuel"),
        "{stdout}"
    );
    assert!(
        stdout.contains("#2 GET / from -\n  on_request: continue"),
        "{stdout}"
    );

    let bad = dir.write("bad.jsonl", "{\"path\": 5}\n");
    let out = bext_lua(
        &dir.0,
        &[
            "try",
            hello.to_str().unwrap(),
            "--requests",
            bad.to_str().unwrap(),
        ],
        "",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("bad.jsonl:1: not a request context"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn bench_prints_a_comparison_table() {
    let out = bext_lua(
        &examples(),
        &["bench", "ratelimit.lua", "--runs", "3", "--calls", "20"],
        "",
    );
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains("| measure | wasm | native mlua | wasm/native |"),
        "{stdout}"
    );
    let rows: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("| ") && l.ends_with("x |"))
        .collect();
    assert_eq!(rows.len(), 4, "{stdout}");
    assert!(
        rows[0].starts_with("| cold start, new sandbox by fork"),
        "{stdout}"
    );
    assert!(
        rows[1].starts_with("| cold start, new sandbox from source"),
        "{stdout}"
    );
    assert!(
        rows[2].starts_with("| plugin load") && rows[3].starts_with("| on_request per call"),
        "{stdout}"
    );

    let out = bext_lua(&examples(), &["bench", "no-such-plugin.lua"], "");
    assert_eq!(out.status.code(), Some(1));
}
