//! Differential Lua fuzzing: seeded, generated Lua programs run three ways,
//! in the full profile (`bext-lua run`'s runner), in the plugin profile (a
//! plugin loaded through `LuaPluginRuntime` whose `transform` runs the
//! program, `tests/scripts/differential_program.lua`) and on native Lua 5.4
//! (mlua, the `bext-lua-native` baseline), and their outputs compared.
//!
//! * A program is a prelude (a value printer that hides nothing but table
//!   and function addresses, and `try`, which runs a fragment under
//!   `pcall` and prints its results or its error value) and a few
//!   fragments, each drawn from one area: integer/float edge cases and
//!   coercions, `string.format`, the string library and patterns,
//!   `tostring`/`tonumber`, `table.sort` with valid and invalid comparators,
//!   the table library and `select`, coroutines, `goto`, metamethods,
//!   `error`/`pcall` with any value, and the 32-bit guest's size limits.
//!   Programs terminate by construction: loops are bounded, there is no
//!   recursion without a depth bound, and arrays stay small (`table.sort`
//!   randomises its pivot above 100 elements, so sorted arrays stay below).
//! * Differences that KNOWN_DIFFERENCES.md documents are folded before
//!   comparing ([`FOLDS`], [`fold_fmod`], [`equivalent_words`]): each fold
//!   names its key, and a test checks the key is explained there.
//! * `tests/differential/*.lua` keeps every program that once differed; it is
//!   replayed first. A file holds a comment line and the program's
//!   fragments: the replay prepends the prelude
//!   (`tests/scripts/differential_prelude.lua`), so line numbers in its
//!   messages are the generated program's. A program written for
//!   reduction is whole: drop its prelude when adding it to the corpus.
//! * A short run (`SHORT_RUN` programs) is part of `cargo test --test all`;
//!   `BEXT_LUA_DIFF_PROGRAMS=N` runs N programs and `BEXT_LUA_DIFF_SEED=S`
//!   starts from another seed (program `i` of seed `S` is always the same
//!   program). A differing program is written to
//!   `$TMPDIR/bext-lua-diff/<seed>-<index>.lua` for reduction.
//!
//! The generator is written here rather than with a grammar-based crate
//! (`arbitrary`, `proptest`) because what makes a program useful is its
//! vocabulary (the edge values and library corners listed above) and the
//! guarantee that it terminates and prints only what both sides print the
//! same; a generic generator would spend nearly all programs on syntax
//! errors or nil indexing. The seeded RNG is the suite's `common::Rng`.

use crate::common::{self, Rng};
use crate::conformance::{BINARY_OPS, gen_expr, gen_string_op, runner};
use bext_lua_native as native;
use bext_plugin_api::transform::TransformContext;
use bext_plugin_lua_wasm::runner::RunOptions;
use bext_plugin_lua_wasm::{Error, LuaPlugin};
use std::path::PathBuf;
use std::sync::OnceLock;

/// Programs in the run that `cargo test --test all` makes.
const SHORT_RUN: usize = 300;

/// What one program did on one side: its output (bytes outside printable
/// ASCII written `\ddd`, as the plugin returns it) and the error that
/// stopped it, if any.
#[derive(Debug, PartialEq)]
struct Outcome {
    output: String,
    error: Option<String>,
}

/// The escaping of `differential_program.lua`, for the other two sides.
fn escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        match b {
            b'\n' | b'\t' | 32..=91 | 93..=126 => out.push(b as char),
            _ => out.push_str(&format!("\\{b:03}")),
        }
    }
    out
}

fn run_full(source: &str) -> Outcome {
    let run = runner()
        .run(&RunOptions::captured_source(source))
        .expect("running on the full profile");
    Outcome {
        output: escape(&run.stdout),
        error: (run.exit_code != 0).then(|| String::from_utf8_lossy(&run.stderr).into_owned()),
    }
}

fn plugin() -> &'static LuaPlugin {
    static PLUGIN: OnceLock<LuaPlugin> = OnceLock::new();
    PLUGIN.get_or_init(|| {
        common::load("differential", &common::script("differential_program.lua"))
            .expect("loading the plugin-profile harness")
    })
}

fn run_plugin(source: &str) -> Outcome {
    let ctx = TransformContext {
        node_env: "test".into(),
        env_vars: vec![],
    };
    match plugin().try_transform(source, "program", &ctx) {
        Ok(output) => Outcome {
            output: output.unwrap_or_default(),
            error: None,
        },
        Err(Error::Lua { message, .. }) => Outcome {
            output: String::new(),
            error: Some(message),
        },
        Err(other) => Outcome {
            output: String::new(),
            error: Some(format!("{other:?}")),
        },
    }
}

fn run_native(source: &str) -> Outcome {
    let run = native::run_captured(source);
    Outcome {
        output: escape(&run.stdout),
        error: run.error,
    }
}

/// A documented difference, folded out of both sides' output before they
/// are compared: every line starting with `prefix` keeps only the prefix.
struct Fold {
    /// The KNOWN_DIFFERENCES.md key that explains it.
    key: &'static str,
    prefix: &'static str,
}

/// The generator prints the values that differ by design behind these
/// prefixes (see `limits_fragment`).
const FOLDS: &[Fold] = &[
    // string.packsize("T") is 4 on wasm32, 8 natively.
    Fold {
        key: "32-bit-size_t",
        prefix: "\"size_t\"",
    },
    // string.packsize("l") is 4 on wasm32 (ILP32), 8 natively.
    Fold {
        key: "32-bit-long",
        prefix: "\"long\"",
    },
];

/// Keys of the documented differences that [`fold_fmod`] and
/// [`equivalent_words`] accept.
const WORD_FOLDS: &[&str] = &["c-argument-order", "nan-sign", "libm-ulp"];

fn fold(output: &str) -> Vec<String> {
    output
        .lines()
        .map(|line| {
            FOLDS
                .iter()
                .find(|f| line.starts_with(f.prefix))
                .map_or_else(|| fold_fmod(line), |f| f.prefix.to_string())
        })
        .collect()
}

/// `c-argument-order`: which of `math.fmod`'s two bad arguments is named
/// depends on the C compiler, so "bad argument #N to 'fmod' (number
/// expected, got T)" is folded to "bad argument to 'fmod'" (the
/// conformance test folds it the same way).
fn fold_fmod(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(at) = rest.find("bad argument #") {
        let after = &rest[at + "bad argument #".len()..];
        let tail = ["1", "2"].iter().find_map(|n| {
            after
                .strip_prefix(n)?
                .strip_prefix(" to 'fmod' (number expected, got ")?
                .split_once(')')
                .map(|(_, tail)| tail)
        });
        match tail {
            Some(tail) => {
                out.push_str(&rest[..at]);
                out.push_str("bad argument to 'fmod'");
                rest = tail;
            }
            None => {
                out.push_str(&rest[..at + 1]);
                rest = &rest[at + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Whether two differing words of one output line are a documented
/// difference, and which ([`WORD_FOLDS`]).
fn equivalent_words(wasm: &str, native: &str) -> Option<&'static str> {
    let (w, n) = (wasm.trim_matches('"'), native.trim_matches('"'));
    if [w, n] == ["nan", "-nan"] || [w, n] == ["-nan", "nan"] {
        return Some("nan-sign");
    }
    let (w, n) = (w.parse::<f64>().ok()?, n.parse::<f64>().ok()?);
    (w.is_finite() && w.to_bits().abs_diff(n.to_bits()) == 1).then_some("libm-ulp")
}

/// Whether `wasm` and `native` lines are the same up to documented
/// differences.
fn same_line(wasm: &str, native: &str) -> bool {
    let (w, n): (Vec<&str>, Vec<&str>) = (wasm.split(' ').collect(), native.split(' ').collect());
    w.len() == n.len()
        && w.iter()
            .zip(&n)
            .all(|(a, b)| a == b || equivalent_words(a, b).is_some())
}

/// Runs `source` three ways; `Err` describes the first difference.
fn check(source: &str) -> Result<(), String> {
    let native = run_native(source);
    let full = run_full(source);
    let plugin = run_plugin(source);
    // Every fragment runs under pcall: a program stops with an error only
    // if the generator wrote one that does not parse, which is a bug too.
    for (side, outcome) in [("native", &native), ("full", &full), ("plugin", &plugin)] {
        if let Some(error) = &outcome.error {
            return Err(format!("{side} stopped with an error: {error}"));
        }
    }
    let expected = fold(&native.output);
    for (side, outcome) in [("full", &full), ("plugin", &plugin)] {
        let got = fold(&outcome.output);
        if got.len() != expected.len() {
            return Err(format!(
                "{side} profile printed {} lines, native {}",
                got.len(),
                expected.len()
            ));
        }
        if let Some((i, (a, b))) = got
            .iter()
            .zip(&expected)
            .enumerate()
            .find(|(_, (a, b))| !same_line(a, b))
        {
            return Err(format!(
                "{side} profile differs from native at line {}:\n  wasm:   {a}\n  native: {b}",
                i + 1
            ));
        }
    }
    Ok(())
}

// ---- the generator ----

/// Defined in every program: `show` prints a value so that both sides
/// print it the same unless Lua differs (floats with 17 digits, so the
/// sign of zero and of NaN shows; strings quoted; tables by their `tag`
/// field, never by address), `out` prints its arguments with `show`, and
/// `try` runs a fragment under pcall.
const PRELUDE: &str = include_str!("../scripts/differential_prelude.lua");

/// Numbers at the edges: integer limits, 2^53, signed zeros, infinities,
/// NaN, fractions and numeric strings.
const NUMBERS: &[&str] = &[
    "0",
    "1",
    "-1",
    "3",
    "-7",
    "255",
    "math.maxinteger",
    "math.mininteger",
    "(math.maxinteger - 1)",
    "(math.mininteger + 1)",
    "2^53",
    "(2^53 + 1)",
    "9007199254740993",
    "2^63",
    "-2^63",
    "0.0",
    "-0.0",
    "(1/0)",
    "(-1/0)",
    "(0/0)",
    "-(0/0)",
    "0.5",
    "-2.5",
    "3.7",
    "-3.7",
    "1e15",
    "1e16",
    "1e100",
    "5e-324",
    "0x7fffffff",
    "0xffffffff",
    "0x7fffffffffffffff",
    "0xffffffffffffffff",
    "'10'",
    "'0x10'",
    "' 5 '",
    "'3.0'",
    "'1e2'",
    "'abc'",
    "'-0'",
];

const CONVERSIONS: &[&str] = &[
    "math.tointeger(X)",
    "math.floor(X)",
    "math.ceil(X)",
    "math.abs(X)",
    "math.type(X)",
    "math.fmod(X, 3)",
    "math.fmod(X, -3)",
    "math.fmod(7, X)",
    "math.modf(X)",
    "X | 0",
    "X // 1",
    "X % 1",
    "X // 0",
    "X % 0",
    "X // 0.0",
    "X % -0.0",
    "-X",
    "~X",
    "X == math.tointeger(X)",
    "tostring(X)",
    "tonumber(X)",
    "X .. ''",
    "#tostring(X)",
    "string.format('%d', X)",
    "({10, 20, 30})[X]",
    "math.ult(X, 1)",
    "X < math.maxinteger",
    "X <= 2^63",
    "math.max(X, -0.0)",
    "math.min(X, 0.0)",
];

fn number(rng: &mut Rng) -> String {
    if rng.chance(6) {
        // An integer near a power of two, either sign.
        let shift = rng.below(64);
        let base = 1i128 << shift;
        let v = base + rng.below(5) as i128 - 2;
        let v = if rng.chance(2) { -v } else { v };
        return match i64::try_from(v) {
            Ok(v) if v < 0 => format!("({v})"),
            Ok(v) => v.to_string(),
            Err(_) => "math.mininteger".into(),
        };
    }
    rng.pick(NUMBERS).to_string()
}

fn arith_fragment(rng: &mut Rng, label: &str) -> String {
    match rng.below(4) {
        0 => format!(
            "try({label}, function() return {} {} {} end)",
            number(rng),
            rng.pick(BINARY_OPS),
            number(rng)
        ),
        1 => format!(
            "try({label}, function() return {} end)",
            rng.pick(CONVERSIONS)
                .replace('X', &format!("({})", number(rng)))
        ),
        2 => format!("try({label}, function() return {} end)", gen_expr(rng, 3)),
        _ => {
            // Numeric for loops at the edges (bounded: at most a few steps).
            let (start, stop, step) = *rng.pick(&[
                ("math.maxinteger - 2", "math.maxinteger", "1"),
                ("math.mininteger", "math.mininteger + 2", "1"),
                ("math.mininteger + 2", "math.mininteger", "-1"),
                ("1", "3", "0.5"),
                ("1", "2.5", "1"),
                ("1.0", "3", "1"),
                ("3", "1", "-1"),
                ("1", "0", "1"),
                ("1", "3", "0"),
                ("0.1", "0.35", "0.1"),
                ("1", "math.huge", "2^62"),
                ("-1", "-math.huge", "-2^62"),
                ("'1'", "2", "1"),
                ("1", "3", "math.maxinteger"),
                ("math.maxinteger", "math.maxinteger", "math.maxinteger"),
                ("2^53", "2^53 + 2", "1"),
            ]);
            format!(
                "try({label}, function() local r = {{}} for i = {start}, {stop}, {step} do r[#r + 1] = show(i) if #r > 8 then break end end return table.concat(r, ',') end)"
            )
        }
    }
}

const FORMATS: &[&str] = &[
    "%d", "%5d", "%-5d|", "%+d", "%x", "%X", "%#x", "%o", "%c", "%i", "%g", "%.14g", "%.17g",
    "%.3g", "%e", "%.0e", "%f", "%5.2f", "%.0f", "%10.3f", "%-10.1f|", "%q", "%s", "%10s",
    "%-10s|", "%.2s", "%%", "%5.1s|", "%u", "%99d", "%.100f", "%", "%z", "%10q",
];

const FORMAT_ARGS: &[&str] = &[
    "0",
    "-1",
    "255",
    "65",
    "3.0",
    "3.5",
    "-0.0",
    "1e100",
    "1/0",
    "-1/0",
    "0/0",
    "math.maxinteger",
    "math.mininteger",
    "2^53",
    "2^63",
    "1/3",
    "123456.789",
    "'str'",
    "'10'",
    "'a\\0b\\n\"\\\\'",
    "'\\200\\255'",
    "('x'):rep(120)",
    "nil",
    "true",
    "{}",
    "setmetatable({}, {__tostring = function() return 'OBJ' end})",
];

fn format_fragment(rng: &mut Rng, label: &str) -> String {
    if rng.chance(3) {
        let a = rng.pick(FORMATS);
        let b = rng.pick(FORMATS);
        format!(
            "try({label}, string.format, '{a} {b}', {}, {})",
            rng.pick(FORMAT_ARGS),
            rng.pick(FORMAT_ARGS)
        )
    } else {
        format!(
            "try({label}, string.format, '{}', {})",
            rng.pick(FORMATS),
            rng.pick(FORMAT_ARGS)
        )
    }
}

fn string_fragment(rng: &mut Rng, label: &str) -> String {
    match rng.below(5) {
        0 => format!(
            "try({label}, string.char, {}, {})",
            rng.pick(&["65", "0", "255", "256", "-1", "97.0", "97.5", "'98'"]),
            rng.pick(&["66", "0", "255", "1e3"])
        ),
        1 => format!(
            "try({label}, function() local s = {} return s:byte({}, {}) end)",
            rng.pick(&["'hello'", "''", "'\\0\\1\\255'", "('ab'):rep(3)"]),
            rng.pick(&["1", "-1", "0", "-100", "3", "math.mininteger"]),
            rng.pick(&["-1", "2", "100", "math.maxinteger", "0"])
        ),
        2 => format!(
            "try({label}, string.rep, {}, {}, {})",
            rng.pick(&["'ab'", "''", "'x'"]),
            rng.pick(&["0", "1", "3", "-1", "2.0", "2.5", "'2'"]),
            rng.pick(&["nil", "','", "''"])
        ),
        3 => format!(
            "try({label}, function() local t = {{}} for a, b in ({}):gmatch({}) do t[#t + 1] = show(a) .. '/' .. show(b) if #t > 10 then break end end return table.concat(t, ' ') end)",
            rng.pick(&["'k=v, a=1, b=22'", "'aaa'", "''", "'x y z'"]),
            rng.pick(&["'(%w+)=(%w+)'", "'()(a)'", "'(%a*)()'", "'()'", "'(.)(.?)'"])
        ),
        _ => format!("try({label}, function() return {} end)", gen_string_op(rng)),
    }
}

const TOSTRING_VALUES: &[&str] = &[
    "1e15",
    "1e16",
    "-1e15",
    "0.1",
    "1/3",
    "100.0",
    "-0.0",
    "2^63",
    "2^53",
    "123456789012345.0",
    "1e-5",
    "1e300 * 10",
    "3.14159265358979",
    "math.pi",
    "-math.pi",
];
const TONUMBER_TEXTS: &[&str] = &[
    "'0x10'",
    "'0x1p4'",
    "'  10  '",
    "'1e'",
    "'1e5'",
    "'.5'",
    "'5.'",
    "'inf'",
    "'nan'",
    "'0x'",
    "'1 2'",
    "'9223372036854775807'",
    "'9223372036854775808'",
    "'-9223372036854775808'",
    "'0xffffffffffffffff'",
    "'1e400'",
    "'\\t7\\n'",
    "''",
    "'-0x10'",
];

fn tostring_fragment(rng: &mut Rng, label: &str) -> String {
    match rng.below(3) {
        0 => format!(
            "try({label}, function() local v = {} return tostring(v), v .. '', math.type(v) end)",
            rng.pick(TOSTRING_VALUES)
        ),
        1 => format!("try({label}, tonumber, {})", rng.pick(TONUMBER_TEXTS)),
        _ => format!(
            "try({label}, tonumber, {}, {})",
            rng.pick(&[
                "'ff'",
                "'zz'",
                "'10'",
                "' 11 '",
                "'-7'",
                "'1.5'",
                "'7fffffffffffffff'",
                "''"
            ]),
            rng.pick(&["2", "16", "36", "10", "1", "37", "8.0"])
        ),
    }
}

const COMPARATORS: &[&str] = &[
    "nil",
    "function(a, b) return a < b end",
    "function(a, b) return a > b end",
    // Invalid: not a strict order.
    "function(a, b) return a <= b end",
    "function(a, b) return true end",
    "function(a, b) return false end",
    "function(a, b) return (a * 7 + b) % 3 == 0 end",
    // Valid but with ties.
    "function(a, b) return a % 5 < b % 5 end",
    "function(a, b) return (a > 10) and not (b > 10) end",
    // Errors while sorting.
    "function(a, b) if a == 4 then error('cmp ' .. a) end return a < b end",
    "function(a, b) return a < 'x' end",
];

fn sort_fragment(rng: &mut Rng, label: &str) -> String {
    let n = rng.below(40) + 1;
    let values: Vec<String> = (0..n)
        .map(|_| {
            if rng.chance(20) {
                "2.5".into()
            } else {
                (rng.below(30) as i64 - 5).to_string()
            }
        })
        .collect();
    format!(
        "try({label}, function() local t = {{{}}} local ok, e = pcall(table.sort, t, {}) return ok, e, table.concat(t, ',') end)",
        values.join(", "),
        rng.pick(COMPARATORS)
    )
}

fn table_fragment(rng: &mut Rng, label: &str) -> String {
    let array = *rng.pick(&[
        "{1, 2, 3}",
        "{}",
        "{'a', 'b'}",
        "{1.5, -0.0, 2^53}",
        "{1, nil, 3}",
        "{1, {}, 3}",
    ]);
    let pos = *rng.pick(&[
        "1",
        "0",
        "-1",
        "2",
        "4",
        "5",
        "math.maxinteger",
        "math.mininteger",
        "1.0",
        "1.5",
        "'2'",
    ]);
    let call = match rng.below(9) {
        0 => format!(
            "table.concat(t, {}, {}, {})",
            rng.pick(&["','", "''", "1", "nil"]),
            pos,
            rng.pick(&["nil", "3", "1", "0"])
        ),
        1 => format!("table.insert(t, {pos}, 'v'), table.concat(t, ',')"),
        2 => "table.insert(t, 'v'), #t".to_string(),
        3 => format!("table.remove(t, {pos}), #t"),
        4 => "table.remove(t), #t".to_string(),
        5 => format!(
            "select('#', table.unpack(t, {}, {}))",
            pos,
            rng.pick(&["nil", "3", "0", "10", "1e7", "math.maxinteger"])
        ),
        6 => format!(
            "select({}, 'a', 'b', nil)",
            rng.pick(&["'#'", "1", "-1", "0", "3", "4", "-4", "2.0", "'2'"])
        ),
        7 => format!(
            "table.concat(table.move(t, 1, #t, {}, {{}}), ',')",
            rng.pick(&["1", "2", "math.maxinteger", "-1"])
        ),
        _ => "table.pack(table.unpack(t)).n, #{table.unpack(t)}".to_string(),
    };
    format!("try({label}, function() local t = {array} return {call} end)")
}

const COROUTINES: &[&str] = &[
    // A generator, then a resume of the dead coroutine.
    "local co = coroutine.create(function(a, b) local c = coroutine.yield(a + b) local d, e = coroutine.yield(c * 2) return d + e, 'done' end)
     local r = {} for _, args in ipairs({{1, 2}, {10}, {3, 4}, {}}) do r[#r + 1] = table.concat({tostring(coroutine.resume(co, table.unpack(args)))}, ',') .. coroutine.status(co) end
     return table.concat(r, ';'), coroutine.resume(co)",
    // Yield across pcall and a metamethod.
    "local mt = {__add = function(a, b) return coroutine.yield('in add') end}
     local f = coroutine.wrap(function() local ok, v = pcall(function() return setmetatable({}, mt) + 1 end) return 'end', ok, v end)
     return f(), f(42)",
    // Errors inside coroutines, wrap propagates them.
    "local f = coroutine.wrap(function() error({tag = 'boom'}) end) return pcall(f)",
    "local co = coroutine.create(function() error('x', 0) end) return coroutine.resume(co), coroutine.status(co), coroutine.close(co)",
    "return coroutine.isyieldable(), coroutine.running() ~= nil, select(2, coroutine.running())",
    "return pcall(coroutine.yield, 1)",
    "local co = coroutine.create(function() coroutine.yield() end) coroutine.resume(co) return coroutine.close(co), coroutine.status(co)",
    "local co = coroutine.wrap(function(...) local n = 0 for i = 1, select('#', ...) do n = n + coroutine.yield(i) end return n end)
     return co(1, 2, 3), co(10), co(20), co(30)",
    "local co = coroutine.create(function() return coroutine.isyieldable(), select(2, coroutine.running()) end) return coroutine.resume(co)",
    "local co co = coroutine.create(function() return coroutine.resume(co) end) return coroutine.resume(co)",
    "return pcall(coroutine.resume, coroutine.running())",
    "local t = {} local co = coroutine.wrap(function() for i = 1, 5 do t[#t + 1] = i coroutine.yield() end end) for _ = 1, 3 do co() end return table.concat(t, ',')",
];

const GOTOS: &[&str] = &[
    "local r = {} for i = 1, 10 do if i % 3 == 0 then goto continue end r[#r + 1] = i ::continue:: end return table.concat(r, ',')",
    "local n = 0 ::top:: n = n + 1 if n < 5 then goto top end return n",
    "local r = {} for i = 1, 4 do for j = 1, 4 do if j > i then goto next_i end r[#r + 1] = i * 10 + j end ::next_i:: end return table.concat(r, ',')",
    "local fs = {} local i = 1 ::again:: local x = i * i fs[#fs + 1] = function() return x end i = i + 1 if i <= 3 then goto again end return fs[1](), fs[2](), fs[3]()",
    "do goto skip local dead = 1 ::skip:: end return 'after'",
    "local k = 0 while true do k = k + 1 if k > 6 then goto out end end ::out:: return k",
    "return load('goto nowhere')",
    "return load('do local x ::l1:: end goto l1')",
    "return load('::a:: ::a::')",
];

fn control_fragment(rng: &mut Rng, label: &str) -> String {
    let body = if rng.chance(2) {
        rng.pick(COROUTINES)
    } else {
        rng.pick(GOTOS)
    };
    format!("try({label}, function() {body} end)")
}

const METAMETHODS: &[&str] = &[
    "__index = function(t, k) return 'idx:' .. tostring(k) end",
    "__index = {fallback = 'from table'}",
    "__newindex = function(t, k, v) rawset(t, k, v == nil and 'nil' or show(v) .. '!') end",
    "__add = function(a, b) return 'add' end",
    "__sub = function(a, b) return math.type(b) or type(b) end",
    "__eq = function(a, b) return true end",
    "__lt = function(a, b) return rawget(a, 'tag') < rawget(b, 'tag') end",
    "__le = function(a, b) return 'yes' end",
    "__concat = function(a, b) return 'cat' end",
    "__len = function() return 42 end",
    "__len = function() return 2.5 end",
    "__call = function(self, x, y) return 'called', x, y end",
    "__tostring = function(self) return 'T' .. tostring(rawget(self, 'tag')) end",
    "__tostring = function(self) return 7 end",
    "__name = 'MyType'",
    "__unm = function(a) return 'neg' end",
    "__idiv = function(a, b) return 'idiv' end",
    "__mod = function(a, b) return 'mod' end",
    "__band = function(a, b) return 'band' end",
    "__shl = function(a, b) return 'shl' end",
    "__bnot = function(a) return 'bnot' end",
    "__close = function() end",
    "__index = function(t, k) return k * 2 end",
];

const META_USES: &[&str] = &[
    "a.fallback, a.missing, a[1]",
    "(function() a.x = 5 a.y = nil return rawget(a, 'x'), rawget(a, 'y') end)()",
    "a + 1, 1 + a, a + b",
    "a - 2.5, a - 'x'",
    "a == b, a ~= b, a == a, rawequal(a, b)",
    "a < b, a > b, a <= b, a >= b",
    "a < 1",
    "a .. 'x', 'x' .. a, 1 .. a, a .. b",
    "#a, #b",
    "a(1, 2), pcall(a, 'p')",
    "tostring(a), tostring(b)",
    "string.format('%s|%s', a, b)",
    "-a, a // 2, a % 2, a & 1, a << 1, ~a",
    "a & 1.5, 1 | a",
    "(function() local x <close> = a return 'closed' end)()",
    "a[3], b[4]",
    "math.max(a, b)",
    "table.concat({a, b})",
    "table.unpack(setmetatable({}, getmetatable(a)), 1, 2)",
];

fn meta_fragment(rng: &mut Rng, label: &str) -> String {
    let count = 1 + rng.below(3);
    let fields: Vec<&str> = (0..count).map(|_| *rng.pick(METAMETHODS)).collect();
    // A field set twice is a syntax error for nothing: keep the first.
    let mut seen = Vec::new();
    let fields: Vec<&str> = fields
        .into_iter()
        .filter(|f| {
            let name = f.split('=').next().unwrap().trim();
            let fresh = !seen.contains(&name);
            seen.push(name);
            fresh
        })
        .collect();
    let b_meta = if rng.chance(2) { "mt" } else { "{}" };
    format!(
        "try({label}, function() local mt = {{{}}} local a = setmetatable({{tag = 1}}, mt) local b = setmetatable({{tag = 2}}, {b_meta}) return {} end)",
        fields.join(", "),
        rng.pick(META_USES)
    )
}

const ERROR_VALUES: &[&str] = &[
    "nil",
    "42",
    "4.5",
    "-0.0",
    "true",
    "'plain'",
    "{tag = 'err'}",
    "setmetatable({tag = 'obj'}, {__tostring = function() return 'OBJ' end})",
    "print",
];

fn error_fragment(rng: &mut Rng, label: &str) -> String {
    let value = *rng.pick(ERROR_VALUES);
    let body = match rng.below(8) {
        0 => format!("error({value})"),
        1 => format!("error({value}, {})", rng.pick(&["0", "1", "2", "3"])),
        2 => format!("return select(2, pcall(error, {value}))"),
        3 => format!(
            "return xpcall(function() error({value}) end, function(m) return 'handled', m end)"
        ),
        4 => {
            format!("return xpcall(function() error({value}) end, function(m) error('again') end)")
        }
        5 => format!(
            "local ok, e = pcall(function() local ok2, e2 = pcall(error, {value}) error(e2, 0) end) return ok, e"
        ),
        6 => format!("return pcall(function() local x = nil return x.field end), {value}"),
        _ => format!(
            "return select('#', pcall(error)), select('#', {value}), select('#', nil, nil), select(-1, 1, {value})"
        ),
    };
    format!("try({label}, function() {body} end)")
}

/// The 32-bit guest's limits. The sizes asked are beyond both sides'
/// limits (native Lua's `MAX_SIZE` is 2^63, the guest's 2^32), so both
/// raise the same error without allocating; `string.packsize` of `T` and
/// `l` differ by design and are printed behind the [`FOLDS`] prefixes.
fn limits_fragment(rng: &mut Rng, label: &str) -> String {
    match rng.below(8) {
        0 => format!(
            "try({label}, string.rep, {}, math.maxinteger, {})",
            rng.pick(&["'ab'", "'x'"]),
            rng.pick(&["nil", "','"])
        ),
        // Not `("x"):rep(math.maxinteger)`: native Lua 5.4.8 passes its
        // size check and asks mlua's allocator for 2^63 bytes, which never
        // returns (here it is "resulting string too large"); not
        // `(""):rep(2^40)` either, 2^40 empty copies on both sides.
        1 => format!(
            "try({label}, function() return ('x'):rep(0), ('x'):rep(-1), ('ab'):rep(3, '') end)"
        ),
        2 => format!(
            "try({label}, table.unpack, {{}}, 1, {})",
            rng.pick(&["1e6", "1e8", "math.maxinteger", "2^31"])
        ),
        3 => format!(
            "try({label}, table.concat, {{}}, '', 1, {})",
            rng.pick(&["math.maxinteger", "2^31", "0"])
        ),
        4 => format!("try({label}, table.move, {{1, 2}}, 1, math.maxinteger, 2)"),
        5 => format!(
            "out('size_t', string.packsize('T'), string.packsize('!T'), pcall(string.pack, 'T', 2^32)) out('long', string.packsize('l'), string.packsize('L')) try({label}, string.packsize, 'i4j{}')",
            rng.pick(&["", "d", "n", "i16", "s4"])
        ),
        6 => format!(
            "try({label}, string.sub, 'hello', {}, {})",
            rng.pick(&["math.mininteger", "2^31", "-2^31", "0"]),
            rng.pick(&["math.maxinteger", "2^31", "-(2^31)", "-1"])
        ),
        _ => format!(
            "try({label}, utf8.char, {})",
            rng.pick(&["0x7FFFFFFF", "0x80000000", "-1", "0x10FFFF", "0x110000"])
        ),
    }
}

type FragmentGen = fn(&mut Rng, &str) -> String;

/// Every area, with its weight (how many of 100 fragments are drawn from it).
const AREAS: &[(FragmentGen, usize)] = &[
    (arith_fragment, 20),
    (format_fragment, 12),
    (string_fragment, 12),
    (tostring_fragment, 6),
    (sort_fragment, 8),
    (table_fragment, 10),
    (control_fragment, 10),
    (meta_fragment, 12),
    (error_fragment, 6),
    (limits_fragment, 4),
];

/// Program `index` of `seed`: the prelude and 3 to 12 fragments, each
/// labelled with its number.
fn program(seed: u64, index: u64) -> String {
    let mut rng = Rng::new(seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let total: usize = AREAS.iter().map(|(_, w)| w).sum();
    let mut source = String::from(PRELUDE);
    for n in 0..3 + rng.below(10) {
        let mut pick = rng.below(total);
        let area = AREAS
            .iter()
            .find(|(_, w)| {
                let hit = pick < *w;
                pick = pick.saturating_sub(*w);
                hit
            })
            .map_or(AREAS[0].0, |(f, _)| *f);
        source.push_str(&area(&mut rng, &n.to_string()));
        source.push('\n');
    }
    source
}

fn env_number(name: &str) -> Option<u64> {
    let text = std::env::var(name).ok()?;
    let text = text.trim();
    let parsed = match text.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => text.parse(),
    };
    Some(parsed.unwrap_or_else(|_| panic!("{name}={text} is not a number")))
}

/// Writes a differing program where it can be reduced by hand, and says
/// where.
fn keep(seed: u64, index: u64, source: &str) -> String {
    let dir = std::env::temp_dir().join("bext-lua-diff");
    let path = dir.join(format!("{seed:#x}-{index}.lua"));
    match std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&path, source)) {
        Ok(()) => path.display().to_string(),
        Err(e) => format!("(not written: {e})"),
    }
}

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/differential")
}

#[test]
fn the_folded_differences_are_documented() {
    let known = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("KNOWN_DIFFERENCES.md"),
    )
    .unwrap();
    for key in FOLDS
        .iter()
        .map(|f| f.key)
        .chain(WORD_FOLDS.iter().copied())
    {
        assert!(
            known.contains(&format!("`{key}`")),
            "fold `{key}` is not explained in KNOWN_DIFFERENCES.md"
        );
    }
    // The folds accept what they should, and nothing else.
    assert_eq!(
        equivalent_words("5.5511151231257827e-17", "5.5511151231257839e-17"),
        Some("libm-ulp")
    );
    assert_eq!(equivalent_words("0.5", "0.50000000000000022"), None);
    assert_eq!(equivalent_words("\"-nan\"", "\"nan\""), Some("nan-sign"));
    assert_eq!(
        fold_fmod(
            "2 \"err\" \"stdin:26: bad argument #1 to 'fmod' (number expected, got string)\""
        ),
        "2 \"err\" \"stdin:26: bad argument to 'fmod'\""
    );
    assert_eq!(
        fold_fmod("bad argument #1 to 'sub' (number expected, got string)"),
        "bad argument #1 to 'sub' (number expected, got string)"
    );
}

#[test]
fn programs_that_once_differed_agree() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "lua"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "the corpus folder is empty");
    let failures: Vec<String> = files
        .iter()
        .filter_map(|path| {
            // A corpus program is its fragments; the prelude is the
            // generator's, prepended as when it was generated.
            let source = std::fs::read_to_string(path).unwrap();
            check(&format!("{PRELUDE}{source}"))
                .err()
                .map(|why| format!("{}: {why}", path.display()))
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn generated_programs_agree_in_both_profiles_and_natively() {
    let seed = env_number("BEXT_LUA_DIFF_SEED").unwrap_or(0xD1FF_5EED);
    let count = env_number("BEXT_LUA_DIFF_PROGRAMS").unwrap_or(SHORT_RUN as u64);
    let mut failures = Vec::new();
    for index in 0..count {
        let source = program(seed, index);
        if let Err(why) = check(&source) {
            let path = keep(seed, index, &source);
            failures.push(format!("program {index} ({path}): {why}"));
            if failures.len() >= 20 {
                break;
            }
        }
    }
    println!("{count} generated programs, seed {seed:#x}");
    assert!(
        failures.is_empty(),
        "BEXT_LUA_DIFF_SEED={seed:#x}: {} programs differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
