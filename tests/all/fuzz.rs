//! Deterministic, seeded fuzzing under `cargo test`: arbitrary bytes as
//! script source, as request context, and as guest return values (through a
//! Lua plugin's results and through the hostile WAT guest's raw ABI answers).
//!
//! Every input must end in a result or a typed error naming the plugin: no
//! panic, hang or crash of the host, and bad return values never discard a
//! sandbox. A failure prints the seed, the iteration and the input.
//!
//! Budget (defaults keep the file well under a minute in a debug build):
//!
//! * `BEXT_FUZZ_ITERS`: iterations per target (default 1500);
//! * `BEXT_FUZZ_SECONDS`: run each target for this long instead (with
//!   `--test-threads=3` the three targets run side by side, so this is also
//!   the wall time; by default libtest runs one test per core);
//! * `BEXT_FUZZ_SEED`: the seed (default fixed; the run prints it).
//!
//! `BEXT_FUZZ_SECONDS=600 cargo test --release --test all fuzz:: -- --nocapture --test-threads=3`
//! runs each target for ten minutes.

use crate::common::*;
use bext_plugin_api::middleware::{RequestAction, RequestContext, ResponseHeaders};
use bext_plugin_lua_wasm::{
    Error, LuaPlugin, LuaPluginConfig, LuaPluginRuntime, LuaRuntimeConfig, LuaSandboxLimits,
};
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().map(|v| {
        v.trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v} is not a number"))
    })
}

/// What the iterations of one target ended in, by error variant.
#[derive(Default)]
struct Tally(std::collections::BTreeMap<String, u64>);

impl Tally {
    fn add<T>(&mut self, what: &str, result: &Result<T, Error>) {
        let kind = match result {
            Ok(_) => "ok".to_string(),
            Err(e) => format!("{e:?}")
                .split([' ', '{'])
                .next()
                .unwrap_or("")
                .to_string(),
        };
        *self.0.entry(format!("{what}:{kind}")).or_default() += 1;
    }
}

/// Runs `one` with a fresh RNG stream per iteration until the budget is
/// spent; reports executions and outcomes. `one` describes its input in the
/// string, which is printed if it panics.
fn fuzz(target: &str, mut one: impl FnMut(&mut Rng, &mut String, &mut Tally)) {
    let seed = env_u64("BEXT_FUZZ_SEED").unwrap_or(0x5eed_b0a7_1234_abcd);
    let seconds = env_u64("BEXT_FUZZ_SECONDS");
    let iters =
        env_u64("BEXT_FUZZ_ITERS").unwrap_or(if seconds.is_some() { u64::MAX } else { 1500 });
    let deadline = seconds.map(|s| Instant::now() + Duration::from_secs(s));
    let started = Instant::now();
    let mut done = 0u64;
    let mut tally = Tally::default();
    while done < iters && deadline.is_none_or(|d| Instant::now() < d) {
        let iteration_seed = seed ^ (done.wrapping_add(1)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let mut rng = Rng::new(iteration_seed);
        let mut input = String::new();
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| one(&mut rng, &mut input, &mut tally)))
        {
            let shown: String = input.chars().take(4000).collect();
            eprintln!(
                "fuzz {target}: iteration {done} (BEXT_FUZZ_SEED={seed}) failed on input (first 4000 chars):\n{shown}"
            );
            resume_unwind(panic);
        }
        done += 1;
    }
    println!(
        "fuzz {target}: {done} executions in {:.1} s, seed {seed}, no findings; outcomes {:?}",
        started.elapsed().as_secs_f64(),
        tally.0
    );
}

/// Errors must name the plugin, in the value and in the text.
fn assert_names_plugin(name: &str, err: &Error) {
    assert_eq!(err.plugin(), Some(name), "{err:?}");
    assert!(
        err.to_string().starts_with(&format!("lua plugin `{name}`")),
        "{err}"
    );
}

fn fuzz_limits() -> LuaSandboxLimits {
    LuaSandboxLimits::default()
        .fuel_per_call(3_000_000)
        .timeout_ms(2_000)
        .max_heap_bytes(8 << 20)
        .max_payload_bytes(256 << 10)
        .quarantine_after_traps(0)
}

// ---- script source ----

const TOKENS: &[&str] = &[
    "return",
    "local",
    "function",
    "end",
    "if",
    "then",
    "else",
    "elseif",
    "while",
    "do",
    "for",
    "in",
    "repeat",
    "until",
    "break",
    "goto",
    "::l::",
    "nil",
    "true",
    "false",
    "and",
    "or",
    "not",
    "self",
    "ctx",
    "x",
    "t",
    "...",
    "(",
    ")",
    "{",
    "}",
    "[",
    "]",
    "[[",
    "]]",
    "=",
    "==",
    "~=",
    "<=",
    ">>",
    "//",
    "..",
    "#",
    "-",
    "+",
    "*",
    "^",
    "%",
    "&",
    "|",
    "~",
    ",",
    ";",
    ":",
    ".",
    "'",
    "\"",
    "--",
    "--[[",
    "\\",
    "\n",
    " ",
    "0",
    "1",
    "-1",
    "1e308",
    "0x7fffffffffffffff",
    "math.mininteger",
    "math.huge",
    "0/0",
    "'\\0'",
    "'\\xff\\xfe'",
    "'\\u{10FFFF}'",
    "'%'",
    "x = x",
    "t = {}",
    "while true do end",
    "for i = 1, 1e9 do end",
    "string.rep('x', 1 << 20)",
    "string.rep('x', 1e9)",
    "pcall(error)",
    "pcall(function() while true do end end)",
    "xpcall(error, error)",
    "error(ctx)",
    "error()",
    "coroutine.wrap(function() coroutine.yield() end)()",
    "coroutine.resume(coroutine.create(error))",
    "setmetatable({}, {__gc = function() end})",
    "setmetatable({}, {__index = function(t, k) return t[k] end}).x",
    "collectgarbage()",
    "collectgarbage('stop')",
    "collectgarbage('count')",
    "load(ctx)",
    "load('\\27Lua')",
    "load(string.rep('(', 300))",
    "string.format('%99d', 1)",
    "string.format('%q', ctx)",
    "string.format('%s', {})",
    "table.unpack({}, 1, 1e7)",
    "table.concat({1, 2, {}})",
    "table.sort({3, 2, 1}, function() return true end)",
    "ctx:gsub('.', '%0%0')",
    "ctx:match('(.-)(.-)(.-)$')",
    "ctx:find(string.rep('.-', 20) .. 'x')",
    "ctx:rep(100)",
    "ctx:byte(1, -1)",
    "utf8.char(0x7FFFFFFF)",
    "utf8.len('\\xff')",
    "utf8.codepoint(ctx, 1, -1)",
    "string.pack('i16', 1)",
    "string.unpack('z', ctx)",
    "string.pack('s1', string.rep('x', 300))",
    "os.date('%c')",
    "os.date('!*t', -1e15)",
    "os.time({year = 1e12, month = 1, day = 1})",
    "os.clock()",
    "math.random(0)",
    "math.random(math.mininteger, math.maxinteger)",
    "math.tointeger(2^63)",
    "tostring(nil)",
    "tonumber('0x', 16)",
    "tonumber('z', 36)",
    "select('#', ...)",
    "select(-1, ...)",
    "rawequal(t, t)",
    "rawlen(ctx)",
    "next({}, 'x')",
    "ipairs(nil)",
    "getmetatable('').__index",
    "bext.log('info', ctx)",
    "bext.log('debug', tostring(t))",
    "bext.middleware_respond(ctx)",
    "bext.middleware_continue(ctx)",
    "bext.middleware_continue()",
    "bext.middleware_respond('{\"status\":200}')",
    "bext.emit_metric('m', 1, ctx)",
    "bext.emit_metric(ctx, 0/0)",
    "bext.cache_event('hit', ctx)",
    "bext.lifecycle_event(ctx, ctx)",
    "bext.get_config()",
    "bext.transform_unchanged()",
    "print(ctx)",
    "warn('@on')",
    "warn(ctx)",
    "io",
    "os.exit()",
    "os.execute('ls')",
    "require('io')",
    "debug",
];

/// Valid plugins to mutate: the examples and the attack scripts.
fn corpus() -> &'static [String] {
    static CORPUS: OnceLock<Vec<String>> = OnceLock::new();
    CORPUS.get_or_init(|| {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let mut scripts = Vec::new();
        for dir in ["examples/plugins", "tests/attacks", "tests/scripts"] {
            let mut paths: Vec<_> = std::fs::read_dir(root.join(dir))
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect();
            paths.sort();
            for path in paths
                .into_iter()
                .filter(|p| p.extension().is_some_and(|e| e == "lua"))
            {
                scripts.push(std::fs::read_to_string(path).unwrap());
            }
        }
        assert!(!scripts.is_empty());
        scripts
    })
}

fn token_soup(rng: &mut Rng, max: usize) -> String {
    let n = rng.below(max);
    let mut s = String::new();
    for _ in 0..n {
        s.push_str(rng.pick::<&str>(TOKENS));
        s.push(' ');
    }
    s
}

fn mutate(rng: &mut Rng, source: &str) -> String {
    let mut bytes = source.as_bytes().to_vec();
    for _ in 0..1 + rng.below(3) {
        let at = rng.below(bytes.len() + 1);
        match rng.below(5) {
            0 if !bytes.is_empty() => {
                let end = (at + 1 + rng.below(16)).min(bytes.len());
                bytes.drain(at.min(end)..end);
            }
            1 => bytes
                .splice(at..at, rng.pick(TOKENS).bytes().chain([b' ']))
                .for_each(drop),
            2 if at < bytes.len() => bytes[at] = rng.next() as u8,
            3 => {
                let other = rng.pick(corpus());
                let from = rng.below(other.len());
                let len = rng.below(64).min(other.len() - from);
                bytes
                    .splice(at..at, other.as_bytes()[from..from + len].iter().copied())
                    .for_each(drop);
            }
            _ => bytes.splice(at..at, rng.bytes(8)).for_each(drop),
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Statements that compile: calls from [`TOKENS`], bare or under `pcall`,
/// so the soup runs instead of failing to parse.
fn statement_soup(rng: &mut Rng, max: usize) -> String {
    let calls: Vec<&str> = TOKENS
        .iter()
        .copied()
        .filter(|t| t.contains('(') && t.ends_with(')'))
        .collect();
    let mut s = String::new();
    for i in 0..rng.below(max) {
        let call = *rng.pick(&calls);
        match rng.below(3) {
            0 => s.push_str(&format!("local v{i} = {call}\n")),
            1 => s.push_str(&format!("pcall(function() return {call} end)\n")),
            _ => s.push_str(&format!("x = {call} or x\n")),
        }
    }
    s
}

fn random_source(rng: &mut Rng) -> String {
    if rng.chance(3) {
        return format!(
            "local x\n{}return {{ on_request = function(self, ctx) {} end, on_response = function(self, arg) {} end }}",
            statement_soup(rng, 4),
            statement_soup(rng, 10),
            statement_soup(rng, 3)
        );
    }
    match rng.below(4) {
        0 => String::from_utf8_lossy(&rng.bytes(300)).into_owned(),
        1 => token_soup(rng, 40),
        2 => format!(
            "return {{ on_request = function(self, ctx) {} end, on_response = function(self, arg) {} end }}",
            token_soup(rng, 12),
            token_soup(rng, 6)
        ),
        _ => {
            let base = rng.pick(corpus()).clone();
            mutate(rng, &base)
        }
    }
}

#[test]
fn fuzz_script_source() {
    fuzz("script source", |rng, input, tally| {
        let name = "fuzz-source";
        let source = random_source(rng);
        *input = source.clone();
        let loaded = runtime()
            .load_plugin(LuaPluginConfig::new(name, manifest(name), source).limits(fuzz_limits()));
        tally.add("load", &loaded);
        let plugin = match loaded {
            Ok(plugin) => plugin,
            Err(e) => return assert_names_plugin(name, &e),
        };
        for _ in 0..1 + rng.below(3) {
            let mut ctx = random_context(rng);
            let result = plugin.try_on_request(&mut ctx);
            tally.add("on_request", &result);
            if let Err(e) = result {
                assert_names_plugin(name, &e);
            }
            let mut response = ResponseHeaders {
                status: 200,
                headers: vec![],
            };
            if let Err(e) = plugin.try_on_response(&ctx, &mut response) {
                assert_names_plugin(name, &e);
            }
        }
    });
}

// ---- request context ----

fn random_string(rng: &mut Rng, max: usize) -> String {
    const SPECIAL: &[char] = &[
        '"', '\\', '\0', '\n', '\r', '\t', '\u{7f}', '\u{2028}', '\u{feff}', '\u{fffd}', '🦀', '%',
        '[', '{',
    ];
    let len = rng.below(max + 1);
    (0..len)
        .map(|_| match rng.below(4) {
            0 => *rng.pick(SPECIAL),
            1 => char::from_u32(rng.next() as u32 % 0x11_0000).unwrap_or('\u{fffd}'),
            _ => (0x20 + rng.below(0x5f)) as u8 as char,
        })
        .collect()
}

fn random_context(rng: &mut Rng) -> RequestContext {
    let mut ctx = request(&random_string(rng, 8), &random_string(rng, 64), &[]);
    ctx.hostname = random_string(rng, 16);
    ctx.query_string = random_string(rng, 32);
    ctx.peer_ip = rng.chance(2).then(|| random_string(rng, 16));
    ctx.tenant_id = rng.chance(2).then(|| random_string(rng, 16));
    ctx.site_id = rng.chance(2).then(|| random_string(rng, 16));
    for _ in 0..rng.below(8) {
        let value = if rng.chance(20) {
            "v".repeat(rng.below(100_000))
        } else {
            random_string(rng, 64)
        };
        ctx.headers.push((random_string(rng, 16), value));
    }
    for _ in 0..rng.below(3) {
        ctx.extensions
            .insert(random_string(rng, 8), random_string(rng, 16));
    }
    ctx
}

/// The `http` crate's rules: the name an RFC 9110 token, the value free of
/// control characters but tab.
fn valid_header(name: &str, value: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
        && value.bytes().all(|b| b >= 0x20 && b != 0x7f || b == b'\t')
}

/// `RequestContext` is not `Clone`.
fn copy(ctx: &RequestContext) -> RequestContext {
    RequestContext {
        method: ctx.method.clone(),
        path: ctx.path.clone(),
        hostname: ctx.hostname.clone(),
        headers: ctx.headers.clone(),
        query_string: ctx.query_string.clone(),
        peer_ip: ctx.peer_ip.clone(),
        tenant_id: ctx.tenant_id.clone(),
        site_id: ctx.site_id.clone(),
        extensions: ctx.extensions.clone(),
    }
}

/// Sends the context back: as JSON in an extension, and the response
/// argument as the response change.
const ECHO: &str = r#"return {
  on_request = function(self, ctx) return bext.middleware_continue('{"echo":' .. ctx .. '}') end,
  on_response = function(self, arg) return arg end,
}"#;

/// Picks the context apart with patterns and builds (possibly invalid)
/// JSON from the pieces.
const PICKER: &str = r#"return {
  on_request = function(self, ctx)
    local path = ctx:match('"path":"(.-)","hostname"') or ""
    local n = 0
    for k, v in ctx:gmatch('%["(.-)","(.-)"%]') do n = n + #k + #v end
    bext.log("debug", path)
    if #path % 3 == 0 then
      return bext.middleware_respond('{"status":200,"body":' .. string.format('%q', path) .. '}')
    end
    return bext.middleware_continue('{"n":' .. n .. ',"path":"' .. path .. '"}')
  end,
}"#;

#[test]
fn fuzz_request_context() {
    // The harness's own plugins get unlimited fuel (the deadline still
    // applies): a 100 KB header costs more than 3 million.
    let harness = fuzz_limits().fuel_per_call(0).max_payload_bytes(4 << 20);
    let echo = load_with_limits("fuzz-echo", ECHO, harness.clone());
    let picker = load_with_limits("fuzz-picker", PICKER, harness);
    fuzz("request context", |rng, input, tally| {
        let ctx = random_context(rng);
        *input = format!("{ctx:?}");

        // The echo sees exactly what the host sent.
        let mut echoed = copy(&ctx);
        assert!(matches!(
            echo.try_on_request(&mut echoed),
            Ok(RequestAction::Continue)
        ));
        let seen: serde_json::Value = serde_json::from_str(&echoed.extensions["echo"]).unwrap();
        assert_eq!(seen["method"], ctx.method.as_str());
        assert_eq!(seen["path"], ctx.path.as_str());
        assert_eq!(seen["hostname"], ctx.hostname.as_str());
        assert_eq!(seen["query_string"], ctx.query_string.as_str());
        assert_eq!(seen["tenant_id"], serde_json::json!(ctx.tenant_id));
        let headers: Vec<(String, String)> =
            serde_json::from_value(seen["headers"].clone()).unwrap();
        assert_eq!(headers, ctx.headers);
        let status = 100 + rng.below(900) as u16;
        let mut response = ResponseHeaders {
            status,
            headers: ctx.headers.clone(),
        };
        // Echoed back as the response's headers: accepted unchanged when
        // they are valid HTTP, refused (nothing changed) when not.
        match echo.try_on_response(&ctx, &mut response) {
            Ok(()) => assert!(
                ctx.headers.iter().all(|(k, v)| valid_header(k, v)),
                "accepted invalid headers"
            ),
            Err(Error::BadEnvelope { plugin, .. }) => {
                assert_eq!(plugin, "fuzz-echo");
                assert!(
                    !ctx.headers.iter().all(|(k, v)| valid_header(k, v)),
                    "refused valid headers"
                );
            }
            Err(other) => panic!("{other:?}"),
        }
        assert_eq!((response.status, &response.headers), (status, &ctx.headers));

        let picked = picker.try_on_request(&mut copy(&ctx));
        tally.add("picker", &picked);
        match picked {
            Ok(_) => {}
            Err(e) => {
                assert_names_plugin("fuzz-picker", &e);
                assert!(!e.is_trap(), "{e}");
            }
        }
    });
    assert_eq!((echo.stats().traps, picker.stats().traps), (0, 0));
}

// ---- guest return values ----

/// Returns the bytes hex-encoded in the `x-payload` header, from on_request
/// and (through the request in its argument) from on_response.
const RETURNER: &str = r#"local function payload(s)
  local hex = s:match('"x%-payload","(%x*)"') or ""
  return (hex:gsub("..", function(h) return string.char(tonumber(h, 16)) end))
end
return {
  on_request = function(self, ctx) return payload(ctx) end,
  on_response = function(self, arg) return payload(arg) end,
}"#;

/// Bytes that look like what a plugin returns, or garbage.
fn random_return_value(rng: &mut Rng) -> Vec<u8> {
    let status = *rng.pick(&[
        "200",
        "429",
        "99",
        "1000",
        "-1",
        "1e3",
        "200.5",
        "\"200\"",
        "null",
        "65536",
        "18446744073709551616",
    ]);
    let headers = *rng.pick(&[
        r#"[["a","b"]]"#,
        r#"{"a":"b"}"#,
        r#"[["a"]]"#,
        r#"[["a",1]]"#,
        "[]",
        "{}",
        "null",
        "7",
        r#""x""#,
        r#"[["\u0000","\ud800"]]"#,
        r#"{"a":{"b":"c"}}"#,
    ]);
    let body = *rng.pick(&[
        r#""ok""#,
        "7",
        "null",
        r#""\u00ff""#,
        "[]",
        r#""\ud83e\udd80""#,
    ]);
    let action = *rng.pick(&["continue", "respond", "explode", ""]);
    let mut value = match rng.below(6) {
        0 => format!(r#"{{"action":"{action}","response":{{"status":{status},"headers":{headers},"body":{body}}}}}"#),
        1 => format!(r#"{{"action":"{action}","extensions":{headers}}}"#),
        2 => format!(r#"{{"status":{status},"headers":{headers}}}"#),
        3 => rng.pick(&["", "{", "}", "null", "[]", "\"x\"", "{\"action\":null}", "1e999999"]).to_string(),
        _ => String::new(),
    }
    .into_bytes();
    if value.is_empty() || rng.chance(3) {
        let at = rng.below(value.len() + 1);
        value.splice(at..at, rng.bytes(24)).for_each(drop);
    }
    if rng.chance(10) {
        value = format!(
            "{}{}",
            "[".repeat(rng.below(2000)),
            String::from_utf8_lossy(&value)
        )
        .into_bytes();
    }
    value
}

fn hostile_runtime() -> &'static LuaPluginRuntime {
    static RT: OnceLock<LuaPluginRuntime> = OnceLock::new();
    RT.get_or_init(|| {
        let wasm = wat::parse_str(include_str!("../wat/hostile.wat")).expect("hostile.wat");
        LuaPluginRuntime::with_guest_module(LuaRuntimeConfig::default(), &wasm).unwrap()
    })
}

/// A tape for the hostile guest (see tests/wat/hostile.wat): numbers that
/// matter to the ABI, and arbitrary bytes.
fn random_tape(rng: &mut Rng) -> String {
    const NUMBERS: &[u32] = &[
        0,
        1,
        2,
        3,
        4,
        5,
        6,
        7,
        8,
        9,
        10,
        11,
        12,
        13,
        14,
        15,
        16,
        17,
        32,
        256,
        768,
        896,
        1024,
        4096,
        0x6fff,
        0x8000,
        65504,
        65528,
        65535,
        65536,
        0x7fff_ffff,
        0x8000_0000,
        0xffff_ffe0,
        0xffff_fff8,
        0xffff_ffff,
    ];
    let mut tape = String::from(if rng.chance(4) {
        ""
    } else {
        "4096 0 0 256 0 0 0 0 "
    });
    for _ in 0..rng.below(64) {
        match rng.below(5) {
            0 => tape.push((0x21 + rng.below(0x5e)) as u8 as char),
            1 => tape.push_str(&format!("{} ", rng.next() as u32)),
            2 => tape.push_str("4096 0 0 256 0 0 0 0 "),
            _ => tape.push_str(&format!("{} ", rng.pick(NUMBERS))),
        }
    }
    tape
}

#[test]
fn fuzz_guest_return_values() {
    let returner = load_with_limits("fuzz-returner", RETURNER, fuzz_limits().fuel_per_call(0));
    let hostile_limits = fuzz_limits()
        .fuel_per_call(1_000_000)
        .max_heap_bytes(1 << 20);
    fuzz("guest return values", |rng, input, tally| {
        // Through a Lua plugin: arbitrary bytes as its results.
        let value = random_return_value(rng);
        let hex: String = value.iter().map(|b| format!("{b:02x}")).collect();
        let tape = random_tape(rng);
        *input = format!(
            "lua result: {:?}\nhostile tape: {tape:?}",
            String::from_utf8_lossy(&value)
        );
        let ctx = request("GET", "/", &[("x-payload", &hex)]);
        let returned = returner.try_on_request(&mut copy(&ctx));
        tally.add("lua result", &returned);
        if let Err(e) = returned {
            assert_names_plugin("fuzz-returner", &e);
            assert!(
                !e.is_trap(),
                "a bad result must not discard the sandbox: {e}"
            );
        }
        let mut response = ResponseHeaders {
            status: 200,
            headers: vec![],
        };
        if let Err(e) = returner.try_on_response(&ctx, &mut response) {
            assert_names_plugin("fuzz-returner", &e);
            assert!(
                !e.is_trap(),
                "a bad result must not discard the sandbox: {e}"
            );
            assert_eq!(
                response.status, 200,
                "a rejected change must change nothing"
            );
        }

        // Through the raw ABI: a compromised guest's answers.
        let name = "fuzz-hostile";
        let loaded = hostile_runtime().load_plugin(
            LuaPluginConfig::new(name, manifest(name), tape).limits(hostile_limits.clone()),
        );
        tally.add("hostile load", &loaded);
        let plugin: LuaPlugin = match loaded {
            Ok(plugin) => plugin,
            Err(e) => return assert_names_plugin(name, &e),
        };
        for _ in 0..1 + rng.below(4) {
            let result = plugin.try_on_request(&mut random_context(rng));
            tally.add("hostile call", &result);
            if let Err(e) = result {
                assert_names_plugin(name, &e);
            }
        }
    });
    assert_eq!(returner.stats().traps, 0);
    assert_eq!(returner.stats().instances_created, 1);
}
