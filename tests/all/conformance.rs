//! Differential conformance: the same Lua programs on the wasm guest (full
//! profile, `bext-lua run`'s runner, output captured) and on native Lua 5.4
//! (mlua, vendored), with outputs compared exactly.
//!
//! * The corpus: `tests/conformance/*.lua`, snippets separated by lines
//!   `--- name`; each snippet runs in a fresh state on both sides. A snippet
//!   whose header ends in `[differs: KEY]` is a known difference: the test
//!   requires the outputs to differ (so a fix is noticed) and KEY to be
//!   explained in KNOWN_DIFFERENCES.md.
//! * The generator: seeded random expressions and string operations, at
//!   least 10,000 cases, compared the same way.
//! * Lua's C-stack limit: deep gsub/pcall/parser nesting raises Lua's
//!   catchable "C stack overflow" instead of trapping, in the plugin sandbox
//!   and in the full profile.

use crate::common::{self, Rng};
use bext_lua_native as native;
use bext_plugin_api::middleware::RequestAction;
use bext_plugin_lua_wasm::runner::{LuaRunner, RunError, RunOptions};
use bext_plugin_lua_wasm::{Error, LuaPluginConfig, LuaPluginRuntime, LuaRuntimeConfig};
use std::path::PathBuf;
use std::sync::OnceLock;

pub(crate) fn runner() -> &'static LuaRunner {
    static RUNNER: OnceLock<LuaRunner> = OnceLock::new();
    RUNNER.get_or_init(|| LuaRunner::new().expect("creating the full-profile runner"))
}

/// What one program printed on each side.
#[derive(Debug)]
struct Compared {
    wasm_stdout: String,
    wasm_stderr: String,
    wasm_exit: i32,
    native_stdout: String,
    native_error: Option<String>,
}

impl Compared {
    fn same(&self) -> bool {
        self.wasm_exit == 0 && self.native_error.is_none() && self.wasm_stdout == self.native_stdout
    }
}

fn compare(source: &str) -> Compared {
    let wasm = runner()
        .run(&RunOptions::captured_source(source))
        .expect("running on the wasm guest");
    let native = native::run_captured(source);
    Compared {
        wasm_stdout: String::from_utf8_lossy(&wasm.stdout).into_owned(),
        wasm_stderr: String::from_utf8_lossy(&wasm.stderr).into_owned(),
        wasm_exit: wasm.exit_code,
        native_stdout: String::from_utf8_lossy(&native.stdout).into_owned(),
        native_error: native.error,
    }
}

/// The first line where two outputs differ, for messages.
fn first_difference(a: &str, b: &str) -> String {
    for (i, (x, y)) in a.lines().zip(b.lines()).enumerate() {
        if x != y {
            return format!("line {}:\n  wasm:   {x}\n  native: {y}", i + 1);
        }
    }
    format!(
        "lengths differ: wasm {} lines, native {} lines",
        a.lines().count(),
        b.lines().count()
    )
}

struct Snippet {
    file: String,
    name: String,
    /// `[differs: KEY]` in the header.
    differs: Option<String>,
    source: String,
}

fn corpus() -> Vec<Snippet> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/conformance");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "lua"))
        .collect();
    files.sort();
    let mut snippets = Vec::new();
    for path in files {
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        let mut current: Option<Snippet> = None;
        for line in text.lines() {
            if let Some(header) = line.strip_prefix("--- ") {
                snippets.extend(current.take());
                let (name, differs) = match header.split_once("[differs: ") {
                    Some((name, key)) => (
                        name.trim().to_string(),
                        Some(key.trim_end_matches(']').trim().to_string()),
                    ),
                    None => (header.trim().to_string(), None),
                };
                current = Some(Snippet {
                    file: file.clone(),
                    name,
                    differs,
                    source: String::new(),
                });
            } else if let Some(snippet) = current.as_mut() {
                snippet.source.push_str(line);
                snippet.source.push('\n');
            }
        }
        snippets.extend(current.take());
    }
    snippets
}

#[test]
fn corpus_gives_the_same_output_on_wasm_and_native_lua() {
    let snippets = corpus();
    let known = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("KNOWN_DIFFERENCES.md"),
    )
    .unwrap();
    let mut failures = Vec::new();
    for snippet in &snippets {
        assert!(
            !snippet.source.trim().is_empty(),
            "{}: `{}` is empty",
            snippet.file,
            snippet.name
        );
        let result = compare(&snippet.source);
        let label = format!("{} / {}", snippet.file, snippet.name);
        match &snippet.differs {
            None if !result.same() => failures.push(format!(
                "{label}: {}\n  wasm exit {} stderr: {}\n  native error: {:?}",
                first_difference(&result.wasm_stdout, &result.native_stdout),
                result.wasm_exit,
                result.wasm_stderr.trim(),
                result.native_error
            )),
            Some(key) if result.same() => failures.push(format!(
                "{label}: marked [differs: {key}] but the outputs are now the same"
            )),
            Some(key) if !known.contains(&format!("`{key}`")) => failures.push(format!(
                "{label}: difference `{key}` is not explained in KNOWN_DIFFERENCES.md"
            )),
            _ => {}
        }
    }
    let differing = snippets.iter().filter(|s| s.differs.is_some()).count();
    println!("{} snippets, {differing} known differences", snippets.len());
    assert!(
        failures.is_empty(),
        "{} of {} snippets failed:\n{}",
        failures.len(),
        snippets.len(),
        failures.join("\n")
    );
    assert!(
        snippets.len() >= 300,
        "the corpus has only {} snippets",
        snippets.len()
    );
}

/// The seed: fixed, so a failure reproduces; `BEXT_CONFORMANCE_SEED`
/// explores others.
fn seed() -> u64 {
    std::env::var("BEXT_CONFORMANCE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5EED_1234_ABCD_0001)
        | 1
}

const NUMBER_ATOMS: &[&str] = &[
    "0",
    "1",
    "-1",
    "2",
    "3",
    "7",
    "-7",
    "255",
    "1000",
    "math.maxinteger",
    "math.mininteger",
    "9007199254740993",
    "0.0",
    "-0.0",
    "0.5",
    "1.5",
    "-2.25",
    "1e300",
    "1e-300",
    "3.14159",
    "math.huge",
    "-math.huge",
    "2^53",
    "2^63",
    "0x7fffffff",
    "0xff",
    "1e15",
    "123456789012",
    "-0.1",
    "5e-324",
];
const STRING_NUMBER_ATOMS: &[&str] = &[
    "'10'", "'0x10'", "' 5 '", "'1e2'", "'abc'", "'3.0'", "'-7'", "''",
];
pub(crate) const BINARY_OPS: &[&str] = &[
    "+", "-", "*", "/", "//", "%", "^", "&", "|", "~", "<<", ">>", "..", "==", "<", "<=",
];
const UNARY_FUNCS: &[&str] = &[
    "-",
    "~",
    "math.floor",
    "math.ceil",
    "math.abs",
    "math.tointeger",
    "math.type",
    "tostring",
    "tonumber",
    "math.sqrt",
    "math.ult(1, ",
];
const BINARY_FUNCS: &[&str] = &[
    "math.max",
    "math.min",
    "math.fmod",
    "math.ult",
    "select(2, math.modf",
];
/// `%a` and `%q` (which formats floats with `%a`) are left to the corpus:
/// generated subnormals would hit the `libc-printf-a` difference.
const FORMATS: &[&str] = &[
    "%.14g", "%g", "%.3f", "%d", "%x", "%5.1f", "%e", "%.17g", "%i", "%s", "%10.4g", "%-8d",
];

pub(crate) fn gen_expr(rng: &mut Rng, depth: u32) -> String {
    if depth == 0 || rng.below(4) == 0 {
        return if rng.below(6) == 0 {
            rng.pick(STRING_NUMBER_ATOMS).to_string()
        } else if rng.below(8) == 0 {
            format!("{}", (rng.next() as i64) >> rng.below(64))
        } else {
            rng.pick(NUMBER_ATOMS).to_string()
        };
    }
    match rng.below(10) {
        0..=4 => format!(
            "({} {} {})",
            gen_expr(rng, depth - 1),
            *rng.pick(BINARY_OPS),
            gen_expr(rng, depth - 1)
        ),
        5 | 6 => {
            let f = *rng.pick(UNARY_FUNCS);
            match f {
                // A space, or `-` and a negative atom would start a comment.
                "-" | "~" => format!("({f} {})", gen_expr(rng, depth - 1)),
                "math.ult(1, " => format!("math.ult(1, {})", gen_expr(rng, depth - 1)),
                _ => format!("{f}({})", gen_expr(rng, depth - 1)),
            }
        }
        7 => {
            let f = *rng.pick(BINARY_FUNCS);
            let close = if f.starts_with("select") { "))" } else { ")" };
            if f.starts_with("select") {
                format!("{f}({}{close}", gen_expr(rng, depth - 1))
            } else {
                format!(
                    "{f}({}, {}{close}",
                    gen_expr(rng, depth - 1),
                    gen_expr(rng, depth - 1)
                )
            }
        }
        8 => format!(
            "string.format('{}', {})",
            *rng.pick(FORMATS),
            gen_expr(rng, depth - 1)
        ),
        _ => format!(
            "({} and {} or {})",
            gen_expr(rng, depth - 1),
            gen_expr(rng, depth - 1),
            gen_expr(rng, depth - 1)
        ),
    }
}

const STRING_ATOMS: &[&str] = &[
    "'hello world'",
    "''",
    "'abc'",
    "'a.b-c_d'",
    "'  padded  '",
    "'(x)[y]{z}'",
    "'aaa'",
    "'123abc456'",
    "'%d+'",
    "'\\0mid\\0'",
    "'caf\\xc3\\xa9'",
    "'x=1, y=22, z=333'",
    "('ab'):rep(10)",
    "'The Quick Brown Fox'",
];
const PATTERNS: &[&str] = &[
    "'%a+'",
    "'(%d+)'",
    "'[a-c]*'",
    "'.-'",
    "'%s'",
    "'^a'",
    "'c$'",
    "'%p'",
    "'(.)%1'",
    "'%bxy'",
    "'%f[%w]%w+'",
    "'[^%s]+'",
    "'x?'",
    "'(%w+)=(%w+)'",
    "'()'",
    "'[%]]'",
    "'%'",
    "'[a'",
    "'(%a)(%a)'",
    "'.'",
    "''",
    "'%u%l*'",
    "'[%d%.]+'",
    "'%x+'",
    "'(a*(.)%w(%s*))'",
];
const REPLACEMENTS: &[&str] = &[
    "'<%0>'",
    "'%1'",
    "''",
    "'%%'",
    "'-'",
    "{a='A', hello='HI'}",
    "string.upper",
    "function(s) return #s > 2 and s end",
    "'%2%1'",
    "'%9'",
];

pub(crate) fn gen_string_op(rng: &mut Rng) -> String {
    let s = *rng.pick(STRING_ATOMS);
    let int = |rng: &mut Rng| {
        [
            "-100",
            "-3",
            "-1",
            "0",
            "1",
            "2",
            "3",
            "5",
            "100",
            "math.maxinteger",
            "math.mininteger",
        ][rng.below(11)]
    };
    match rng.below(16) {
        0 => format!(
            "({s}):rep({}, {})",
            rng.below(5),
            *rng.pick(&["''", "','", "nil"])
        ),
        1 => format!("({s}):sub({}, {})", int(rng), int(rng)),
        2 => format!(
            "({s}):find({}, {}, {})",
            *rng.pick(PATTERNS),
            int(rng),
            *rng.pick(&["true", "false", "nil"])
        ),
        3 => format!("({s}):match({}, {})", *rng.pick(PATTERNS), int(rng)),
        4 => format!(
            "select(2, ({s}):gsub({}, {}))",
            *rng.pick(PATTERNS),
            *rng.pick(REPLACEMENTS)
        ),
        5 => format!(
            "({s}):gsub({}, {}, {})",
            *rng.pick(PATTERNS),
            *rng.pick(REPLACEMENTS),
            rng.below(4)
        ),
        6 => format!("string.format('%q', {s})"),
        7 => format!("({s}):byte({}, {})", int(rng), int(rng)),
        8 => format!("table.concat({{({s}):byte(1, -1)}}, ',')"),
        9 => format!("({s}):upper() .. ({s}):lower() .. ({s}):reverse() .. #({s})"),
        10 => format!(
            "utf8.len({s}, {}, {}, {})",
            int(rng),
            int(rng),
            *rng.pick(&["true", "false"])
        ),
        11 => {
            let fmt = *rng.pick(&[
                "'<i4'", "'>i8'", "'<d'", "'s1'", "'z'", "'<I2'", "'j'", "'c3'",
            ]);
            format!(
                "select('#', string.unpack({fmt}, string.pack({fmt}, {})))",
                *rng.pick(&["1", "-1", "65535", "1.5", s, "2^31"])
            )
        }
        12 => format!("string.format('%5.2s|%-6s|%s', {s}, {s}, {s})"),
        13 => {
            let pattern = *rng.pick(PATTERNS);
            let mut out = String::from("(function() local t = {} for w in (");
            out.push_str(s);
            out.push_str("):gmatch(");
            out.push_str(pattern);
            out.push_str(") do t[#t + 1] = tostring(w) if #t > 20 then break end end return table.concat(t, '|') end)()");
            out
        }
        14 => format!(
            "tonumber({s}) or tonumber(({s}):match('%d+') or 'x', {})",
            2 + rng.below(35)
        ),
        _ => format!(
            "({s} .. ({})) < ({s} .. ({}))",
            gen_expr(rng, 1),
            gen_expr(rng, 1)
        ),
    }
}

/// The case printer: one line per case, full float precision, strings
/// quoted, errors with their message.
///
/// One known difference is folded here: when both arguments of `math.fmod`
/// are invalid, which one the error names depends on the C compiler's
/// argument evaluation order (`c-argument-order` in KNOWN_DIFFERENCES.md;
/// the corpus shows it explicitly).
const CASE_PRELUDE: &str = r#"local function P(f)
  local ok, v = pcall(f)
  if not ok then print("error", (tostring(v):gsub("bad argument #[12] to 'fmod' %(number expected, got %a+%)", "bad argument to 'fmod'"))) return end
  local t = math.type(v)
  if t == "float" then print("float", string.format("%.17g", v))
  elseif t == "integer" then print("integer", v)
  elseif type(v) == "string" then print("string", (string.format("%q", v):gsub("\n", "n")))
  else print(type(v), v) end
end
"#;

fn check_generated(kind: &str, cases: Vec<String>, per_chunk: usize) -> usize {
    let mut failures = Vec::new();
    for (chunk_index, chunk) in cases.chunks(per_chunk).enumerate() {
        let mut source = String::from(CASE_PRELUDE);
        for case in chunk {
            source.push_str("P(function() return ");
            source.push_str(case);
            source.push_str(" end)\n");
        }
        let result = compare(&source);
        if !result.same() {
            let wasm: Vec<&str> = result.wasm_stdout.lines().collect();
            let native: Vec<&str> = result.native_stdout.lines().collect();
            let at = wasm
                .iter()
                .zip(&native)
                .position(|(a, b)| a != b)
                .unwrap_or(wasm.len().min(native.len()));
            failures.push(format!(
                "{kind} chunk {chunk_index} case {at}: `{}`\n  wasm:   {:?}\n  native: {:?}\n  wasm stderr: {}\n  native error: {:?}",
                chunk.get(at).map(String::as_str).unwrap_or("?"),
                wasm.get(at),
                native.get(at),
                result.wasm_stderr.trim(),
                result.native_error
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "seed {}: {} chunks differ:\n{}",
        seed(),
        failures.len(),
        failures.join("\n")
    );
    cases.len()
}

#[test]
fn generated_expressions_match_native_lua() {
    let mut rng = Rng::new(seed());
    let cases: Vec<String> = (0..10_000).map(|_| gen_expr(&mut rng, 3)).collect();
    let n = check_generated("expression", cases, 500);
    println!("{n} generated expressions, seed {}", seed());
}

#[test]
fn generated_string_operations_match_native_lua() {
    let mut rng = Rng::new(seed() ^ 0xA5A5_A5A5);
    let cases: Vec<String> = (0..5_000).map(|_| gen_string_op(&mut rng)).collect();
    let n = check_generated("string operation", cases, 500);
    println!("{n} generated string operations, seed {}", seed());
}

// ---- Lua's C-stack limit is reached before the wasm stacks run out ----

/// Nesting kinds of `tests/scripts/c_stack_nesting.lua`.
const NESTING_KINDS: [&str; 4] = ["gsub", "pcall", "parser", "index"];

fn nesting_body(
    plugin: &bext_plugin_lua_wasm::LuaPlugin,
    kind: &str,
    depth: u32,
) -> Result<String, Error> {
    match plugin.try_on_request(&mut common::request(
        "GET",
        &format!("/{kind}/{depth}"),
        &[],
    ))? {
        RequestAction::Respond(response) => {
            Ok(String::from_utf8_lossy(&response.body).into_owned())
        }
        RequestAction::Continue => panic!("the nesting script always responds"),
    }
}

/// In the plugin sandbox (default engine settings: 256 KiB guest C stack,
/// 512 KiB `max_wasm_stack`), 150 levels work and 300 levels raise Lua's own
/// "C stack overflow", which the script catches with pcall: no trap, the
/// sandbox survives.
#[test]
fn deep_c_nesting_raises_lua_c_stack_overflow_in_the_sandbox() {
    let plugin = common::load("c-stack", &common::script("c_stack_nesting.lua")).unwrap();
    for kind in NESTING_KINDS {
        assert_eq!(
            nesting_body(&plugin, kind, 150).unwrap(),
            "ok",
            "{kind} at 150 levels"
        );
        let body = nesting_body(&plugin, kind, 300)
            .unwrap_or_else(|e| panic!("{kind} at 300 levels: {e:?}"));
        assert!(
            body.contains("C stack overflow"),
            "{kind} at 300 levels: {body}"
        );
        // Far past the limit too: Lua stops at 200 whatever was asked.
        let body = nesting_body(&plugin, kind, 5000)
            .unwrap_or_else(|e| panic!("{kind} at 5000 levels: {e:?}"));
        assert!(
            body.contains("stack overflow"),
            "{kind} at 5000 levels: {body}"
        );
    }
    let stats = plugin.stats();
    assert_eq!((stats.traps, stats.instances_created), (0, 1), "{stats:?}");
}

/// The same nesting in the full profile (`bext-lua run`), compared with
/// native Lua: both report "C stack overflow".
#[test]
fn deep_c_nesting_raises_lua_c_stack_overflow_in_the_full_profile() {
    let script = common::script("c_stack_nesting.lua");
    // The script responds through bext.middleware_respond: both sides get a
    // stand-in that returns the body.
    let source = format!(
        "bext = {{ middleware_respond = function(s) return s:match('\"body\":\"(.*)\"') end }}\n\
         local plugin = (function() {script}\nend)()\n\
         for _, kind in ipairs({{'gsub', 'pcall', 'parser', 'index'}}) do\n\
           for _, n in ipairs({{150, 300, 5000}}) do\n\
             print(kind, n, plugin:on_request('{{\"path\":\"/' .. kind .. '/' .. n .. '\"}}'))\n\
           end\n\
         end\n"
    );
    let result = compare(&source);
    assert!(
        result.same(),
        "{}\n{result:?}",
        first_difference(&result.wasm_stdout, &result.native_stdout)
    );
    let overflows = result
        .wasm_stdout
        .lines()
        .filter(|l| l.contains("C stack overflow"))
        .count();
    assert_eq!(
        result.wasm_stdout.lines().count(),
        12,
        "{}",
        result.wasm_stdout
    );
    assert!(overflows >= 4, "{}", result.wasm_stdout);
    assert_eq!(
        result
            .wasm_stdout
            .lines()
            .filter(|l| l.ends_with("\tok"))
            .count(),
        4,
        "{}",
        result.wasm_stdout
    );
}

/// The wasm stack setting matters: with a `max_wasm_stack` far below the
/// default, the same nesting traps (`Error::StackOverflow`, the instance is
/// replaced) instead of reaching Lua's limit. This is what the default's
/// headroom protects against.
#[test]
fn a_too_small_wasm_stack_traps_instead() {
    let mut config = LuaRuntimeConfig::default();
    config.max_wasm_stack_bytes = 48 << 10;
    let runtime = LuaPluginRuntime::with_config(config).unwrap();
    let plugin = runtime
        .load_plugin(LuaPluginConfig::new(
            "small-stack",
            common::manifest("small-stack"),
            common::script("c_stack_nesting.lua"),
        ))
        .unwrap();
    assert_eq!(nesting_body(&plugin, "gsub", 10).unwrap(), "ok");
    match nesting_body(&plugin, "gsub", 300) {
        Err(Error::StackOverflow { plugin, method }) => assert_eq!(
            (plugin.as_str(), method.as_str()),
            ("small-stack", "on_request")
        ),
        other => panic!("expected a wasm stack overflow with a 48 KiB wasm stack, got {other:?}"),
    }
    assert_eq!(
        nesting_body(&plugin, "gsub", 10).unwrap(),
        "ok",
        "the next call gets a fresh sandbox"
    );
}

// ---- the full profile is for the runner only ----

#[test]
fn plugins_get_the_sandbox_even_though_the_guest_has_a_full_profile() {
    let source = r#"return { on_request = function(self, ctx)
        local seen = {}
        for _, name in ipairs({"io", "debug", "package", "require", "dofile", "loadfile"}) do
          seen[#seen + 1] = name .. "=" .. type(_G[name])
        end
        seen[#seen + 1] = "os.execute=" .. type(os.execute)
        seen[#seen + 1] = "os.tmpname=" .. type(os.tmpname)
        seen[#seen + 1] = "os.getenv=" .. type(os.getenv)
        return bext.middleware_respond('{"status":200,"body":"' .. table.concat(seen, " ") .. '"}')
      end }"#;
    let plugin = common::load("sandboxed", source).unwrap();
    match plugin
        .try_on_request(&mut common::request("GET", "/", &[]))
        .unwrap()
    {
        RequestAction::Respond(r) => assert_eq!(
            String::from_utf8_lossy(&r.body),
            "io=nil debug=nil package=nil require=nil dofile=nil loadfile=nil os.execute=nil os.tmpname=nil os.getenv=nil"
        ),
        RequestAction::Continue => panic!("expected a response"),
    }
    // The same names exist in the full profile.
    let out = runner()
        .run(&RunOptions::captured_source(
            "print(type(io), type(debug), type(package), type(require), type(os.tmpname))",
        ))
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "table\ttable\ttable\tfunction\tfunction\n"
    );
}

#[test]
fn runner_reports_setup_problems_as_typed_errors() {
    match LuaRunner::with_config(LuaRuntimeConfig::default()) {
        Err(RunError::Engine { message }) => assert!(message.contains("fuel"), "{message}"),
        other => panic!("a runner with fuel metering must be refused, got {other:?}"),
    }
    let missing =
        RunOptions::captured_source("print(1)").current_dir("/no/such/folder/for/bext-lua");
    match runner().run(&missing) {
        Err(RunError::Folder { path, .. }) => {
            assert_eq!(path, PathBuf::from("/no/such/folder/for/bext-lua"))
        }
        other => panic!("expected a folder error, got {other:?}"),
    }
    // A program's own failure is an outcome, not a RunError.
    let out = runner()
        .run(&RunOptions::captured_source("error({})"))
        .unwrap();
    assert_eq!(out.exit_code, 1);
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .starts_with("bext-lua: (error object is a table value)")
    );
    let out = runner()
        .run(&RunOptions::captured_source(
            "io.write('bye') os.exit(false)",
        ))
        .unwrap();
    assert_eq!(
        (out.exit_code, out.stdout.as_slice()),
        (1, b"bye".as_slice())
    );
}

/// Every function of the sandbox's libraries is exercised by the corpus:
/// the names come from the guest itself, so a library gaining a function
/// makes this fail until a snippet uses it.
#[test]
fn corpus_covers_every_function_of_the_sandboxed_libraries() {
    let listing = r#"
        local skip = {dofile = true, loadfile = true, dump = true, require = true} -- not in the sandbox
        local names = {}
        for _, lib in ipairs({"_G", "string", "table", "math", "utf8", "coroutine"}) do
          for k, v in pairs(lib == "_G" and _G or _G[lib]) do
            if type(v) == "function" and not skip[k] then names[#names + 1] = (lib == "_G" and "" or lib .. ".") .. k end
          end
        end
        for _, k in ipairs({"time", "date", "difftime", "clock"}) do names[#names + 1] = "os." .. k end
        table.sort(names)
        print(table.concat(names, "\n"))"#;
    let out = runner().run(&RunOptions::captured_source(listing)).unwrap();
    let names = String::from_utf8(out.stdout).unwrap();
    let corpus: String = corpus()
        .iter()
        .map(|s| s.source.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    let mut missing = Vec::new();
    for name in names.lines() {
        let short = name.rsplit('.').next().unwrap();
        // Library functions may be called as `lib.name(` or, for strings, as methods.
        let used = corpus.contains(&format!("{name}("))
            || corpus.contains(&format!("{name},"))
            || (name.starts_with("string.") && corpus.contains(&format!(":{short}(")));
        // Base functions: by name, as a call or passed to pcall.
        let used = used
            || (!name.contains('.')
                && (corpus.contains(&format!("{name}("))
                    || corpus.contains(&format!("pcall({name}"))));
        if !used {
            missing.push(name.to_string());
        }
    }
    // The full profile's extra libraries are not part of the sandbox list.
    assert!(names.lines().count() > 80, "{names}");
    assert!(
        missing.is_empty(),
        "functions no snippet calls: {missing:?}"
    );
}
