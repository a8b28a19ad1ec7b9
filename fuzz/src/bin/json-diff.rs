//! The JSON differential: `bext.json.decode` (guest/c/bext_json.c, built
//! natively with stock Lua) against serde_json, on files (a fuzzer's corpus)
//! and on a seeded set of generated documents.
//!
//! ```text
//! json-diff [--generate N] [--seed S] [PATH...]   PATH: a file or a folder of inputs
//! ```
//!
//! For every input both must accept or both reject, and an accepted
//! document must decode to the same value: the same structure, strings byte
//! for byte, integers as Lua integers exactly where serde_json has an `i64`,
//! every other number a float with the same bits (serde_json with
//! `float_roundtrip`, so its floats are correctly rounded). Every float must
//! also encode (`bext.json.encode`) as text that reads back as itself with
//! no more digits than Rust's shortest round-trip form. Documented
//! differences, which are not failures:
//!
//! * `-0` (no fraction or exponent) decodes to the integer 0, as Lua reads
//!   the literal; serde_json gives the float -0.0.
//! * more than 1000 levels of nesting is an error in bext.json
//!   (`BEXT_JSON_MAX_DEPTH`); serde_json runs here without a depth limit.
//!
//! Exits 1 when any input diverges, printing each.
use serde::Deserialize;
use serde_json::Value;
use std::ffi::c_int;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

unsafe extern "C" {
    fn bext_fuzz_decode(
        text: *const u8,
        len: usize,
        out: *mut *const u8,
        out_len: *mut usize,
        floats: *mut *const u8,
        floats_len: *mut usize,
    ) -> c_int;
}

/// What bext.json made of one input.
struct Bext {
    /// The canonical form (`Ok`) or the decoder's error message.
    result: Result<String, String>,
    /// Each float of the value, with the text `bext.json.encode` writes for it.
    floats: Vec<(u64, String)>,
}

fn bext_decode(text: &[u8]) -> Bext {
    let (mut out, mut out_len) = (std::ptr::null(), 0);
    let (mut floats, mut floats_len) = (std::ptr::null(), 0);
    // SAFETY: the pointers are valid for the call; the glue returns byte
    // ranges it keeps alive until its next call, copied out below.
    let ok = unsafe {
        bext_fuzz_decode(
            text.as_ptr(),
            text.len(),
            &mut out,
            &mut out_len,
            &mut floats,
            &mut floats_len,
        )
    };
    // SAFETY: as above; both ranges are valid until the next call.
    let (out, floats) = unsafe {
        (
            std::slice::from_raw_parts(out, out_len),
            std::slice::from_raw_parts(floats, floats_len),
        )
    };
    let out = String::from_utf8_lossy(out).into_owned();
    let floats = String::from_utf8_lossy(floats)
        .lines()
        .filter_map(|line| {
            let (bits, text) = line.split_once(' ')?;
            Some((u64::from_str_radix(bits, 16).ok()?, text.to_string()))
        })
        .collect();
    Bext {
        result: if ok != 0 { Ok(out) } else { Err(out) },
        floats,
    }
}

fn serde_decode(text: &[u8]) -> Result<Value, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(text);
    de.disable_recursion_limit();
    let value = Value::deserialize(&mut de)?;
    de.end()?;
    Ok(value)
}

fn hex(bytes: &[u8], out: &mut String) {
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
}

/// serde_json's value in fuzz_lua.h's canonical form; `z` is serde_json's
/// -0.0, which bext.json writes as `i0` (from `-0`) or a -0.0 float.
fn canon(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push('n'),
        Value::Bool(b) => out.push(if *b { 'T' } else { 'F' }),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                let _ = write!(out, "i{i}");
            } else {
                // A u64 past i64::MAX is a float in Lua (correctly rounded).
                let x = n.as_u64().map(|u| u as f64).or(n.as_f64()).unwrap();
                if x == 0.0 && x.is_sign_negative() {
                    out.push('z');
                } else {
                    let _ = write!(out, "f{:016x}", x.to_bits());
                }
            }
        }
        Value::String(s) => {
            out.push('s');
            hex(s.as_bytes(), out);
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canon(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            // serde_json's map is ordered by key bytes, as canon sorts them.
            out.push('{');
            for (i, (k, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push('s');
                hex(k.as_bytes(), out);
                out.push(':');
                canon(item, out);
            }
            out.push('}');
        }
    }
}

/// Whether two canonical forms agree, atom by atom, `z` matching either
/// form of bext.json's -0.
fn same(serde: &str, bext: &str) -> bool {
    let split = |s: &str| -> Vec<String> {
        let mut atoms = vec![String::new()];
        for c in s.chars() {
            if "[],{}:".contains(c) {
                atoms.push(c.to_string());
                atoms.push(String::new());
            } else {
                atoms.last_mut().unwrap().push(c);
            }
        }
        atoms
    };
    let (a, b) = (split(serde), split(bext));
    a.len() == b.len()
        && a.iter()
            .zip(&b)
            .all(|(x, y)| x == y || (x == "z" && (y == "i0" || y == "f8000000000000000")))
}

/// Significant digits of a number's text ("1.50e-3" -> 2).
fn significant_digits(text: &str) -> usize {
    let mantissa = text.split(['e', 'E']).next().unwrap_or("");
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let trimmed = digits.trim_start_matches('0').trim_end_matches('0');
    trimmed.len().max(1)
}

fn nesting_depth(text: &[u8]) -> usize {
    let (mut depth, mut max, mut in_string, mut escaped) = (0usize, 0, false, false);
    for &b in text {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                max = max.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

/// The divergences of one input, as lines of text (none: agreement).
fn check(text: &[u8]) -> Vec<String> {
    let bext = bext_decode(text);
    let serde = serde_decode(text);
    let mut problems = Vec::new();
    match (&serde, &bext.result) {
        (Ok(v), Ok(b)) => {
            let mut s = String::new();
            canon(v, &mut s);
            if !same(&s, b) {
                problems.push(format!(
                    "different values:\n  serde_json {s}\n  bext.json  {b}"
                ));
            }
        }
        (Err(e), Ok(b)) => {
            problems.push(format!("bext.json accepts ({b}), serde_json rejects: {e}"))
        }
        (Ok(_), Err(e)) if e.contains("nested too deep") && nesting_depth(text) > 1000 => {}
        (Ok(_), Err(e)) => problems.push(format!("serde_json accepts, bext.json rejects: {e}")),
        (Err(_), Err(_)) => {}
    }
    for (bits, written) in &bext.floats {
        let x = f64::from_bits(*bits);
        match written.parse::<f64>() {
            Ok(back) if back.to_bits() == *bits => {}
            _ => problems.push(format!(
                "{x:e} (bits {bits:016x}) encodes as {written}, which reads back otherwise"
            )),
        }
        let shortest = format!("{x:e}");
        if significant_digits(written) > significant_digits(&shortest) {
            problems.push(format!(
                "{x:e} encodes as {written}: longer than the shortest form {shortest}"
            ));
        }
    }
    problems
}

/// xorshift64*: the generated set is the same for the same seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

fn gen_number(r: &mut Rng, out: &mut String) {
    match r.below(9) {
        0 => out.push_str(r.pick(&[
            "0",
            "-0",
            "-0.0",
            "0e0",
            "1E+2",
            "9223372036854775807",
            "9223372036854775808",
            "-9223372036854775808",
            "-9223372036854775809",
            "18446744073709551615",
            "18446744073709551616",
            "1e308",
            "1.7976931348623157e308",
            "1.7976931348623159e308",
            "1e309",
            "4.9e-324",
            "2.4703282292062327e-324",
            "2.4703282292062328e-324",
            "2.2250738585072011e-308",
            "2.2250738585072014e-308",
            "1e-400",
            "123456789012345678901234567890",
        ])),
        1 => {
            let _ = write!(out, "{}", r.next() as i64 >> r.below(64));
        }
        2 | 3 => {
            // A random finite double in Rust's shortest form, or with
            // digits to spare (Rust prints exactly).
            let x = loop {
                let x = f64::from_bits(r.next());
                if x.is_finite() {
                    break x;
                }
            };
            match r.below(3) {
                0 => write!(out, "{x:e}"),
                1 => write!(out, "{x:.*e}", r.below(25) as usize),
                _ => write!(out, "{x:?}"),
            }
            .unwrap();
        }
        4 => {
            // A subnormal.
            let x = f64::from_bits(r.next() >> (12 + r.below(52)));
            let _ = write!(out, "{x:e}");
        }
        5 => {
            // A short decimal times a power of ten near the fast path's edges.
            let digits = 1 + r.below(18);
            let m = r.next() % 10u64.pow(digits.min(19) as u32);
            let e = r.below(50) as i64 - 25;
            let _ = write!(out, "{m}e{e}");
        }
        6 => {
            let _ = write!(
                out,
                "{}.{}",
                r.below(1_000_000),
                r.next() % 10u64.pow(r.below(19) as u32 + 1)
            );
        }
        7 => {
            // Long digit strings.
            if r.below(2) == 0 {
                out.push('-');
            }
            out.push(char::from(b'1' + r.below(9) as u8));
            for _ in 0..r.below(40) {
                out.push(char::from(b'0' + r.below(10) as u8));
            }
            if r.below(2) == 0 {
                out.push('.');
                for _ in 0..1 + r.below(30) {
                    out.push(char::from(b'0' + r.below(10) as u8));
                }
            }
            if r.below(2) == 0 {
                let _ = write!(
                    out,
                    "{}{}",
                    r.pick(&["e", "E", "e+", "e-", "E-"]),
                    r.below(400)
                );
            }
        }
        _ => {
            let _ = write!(out, "{}", f64::from_bits(r.next()) as f32);
        }
    }
}

fn gen_string(r: &mut Rng, out: &mut String) {
    out.push('"');
    for _ in 0..r.below(12) {
        match r.below(12) {
            0 => out.push_str(r.pick(&["\\n", "\\\"", "\\\\", "\\/", "\\b", "\\f", "\\r", "\\t"])),
            1 => {
                let _ = write!(out, "\\u{:04x}", r.below(0x10000));
            }
            2 => out.push_str(r.pick(&[
                "\\ud83d\\ude00",
                "\\uD800",
                "\\udc00",
                "\\ud800\\u0041",
                "\\u00e9",
                "\\u0000",
            ])),
            3 => out.push(char::from_u32(0x80 + r.below(0x10_ff00) as u32).unwrap_or('é')),
            4 => out.push_str(r.pick(&["é", "€", "😀", "\u{7f}", "\u{ffff}"])),
            _ => out.push(char::from(b' ' + r.below(95) as u8).to_owned()),
        }
    }
    if out.ends_with('\\') && !out.ends_with("\\\\") {
        out.push('n');
    }
    out.push('"');
}

fn gen_value(r: &mut Rng, depth: u32, out: &mut String) {
    let ws = |r: &mut Rng, out: &mut String| {
        if r.below(4) == 0 {
            out.push_str(r.pick(&[" ", "\n", "\t", "\r\n  "]));
        }
    };
    ws(r, out);
    match r.below(if depth > 5 { 6 } else { 9 }) {
        0 | 1 | 2 => gen_number(r, out),
        3 | 4 => gen_string(r, out),
        5 => out.push_str(r.pick(&["true", "false", "null"])),
        6 | 7 => {
            out.push('[');
            for i in 0..r.below(5) {
                if i > 0 {
                    out.push(',');
                }
                gen_value(r, depth + 1, out);
            }
            out.push(']');
        }
        _ => {
            out.push('{');
            for i in 0..r.below(5) {
                if i > 0 {
                    out.push(',');
                }
                ws(r, out);
                if r.below(3) == 0 {
                    out.push_str(r.pick(&["\"a\"", "\"1\"", "\"\""]));
                } else {
                    gen_string(r, out);
                }
                ws(r, out);
                out.push(':');
                gen_value(r, depth + 1, out);
            }
            out.push('}');
        }
    }
    ws(r, out);
}

fn generate(r: &mut Rng) -> Vec<u8> {
    let mut text = String::new();
    if r.below(200) == 0 {
        let depth = 990 + r.below(20) as usize;
        text.push_str(&"[".repeat(depth));
        text.push('1');
        text.push_str(&"]".repeat(depth));
    } else {
        gen_value(r, 0, &mut text);
    }
    let mut bytes = text.into_bytes();
    // Some documents are damaged: a byte changed, inserted, dropped, or the
    // text cut short.
    if r.below(3) == 0 && !bytes.is_empty() {
        let at = r.below(bytes.len() as u64) as usize;
        match r.below(4) {
            0 => bytes[at] = r.next() as u8,
            1 => bytes.insert(
                at,
                *b"\"\\[]{},:0.eE-+\x00\xff"
                    .get(r.below(16) as usize)
                    .unwrap(),
            ),
            2 => {
                bytes.remove(at);
            }
            _ => bytes.truncate(at),
        }
    }
    bytes
}

fn inputs(path: &Path, out: &mut Vec<PathBuf>) {
    if path.is_dir() {
        if let Ok(entries) = std::fs::read_dir(path) {
            let mut files: Vec<_> = entries.filter_map(|e| Some(e.ok()?.path())).collect();
            files.sort();
            for f in files {
                inputs(&f, out);
            }
        }
    } else if path.is_file() {
        out.push(path.to_path_buf());
    }
}

fn escape(text: &[u8]) -> String {
    let shown: String = text
        .iter()
        .take(300)
        .flat_map(|b| std::ascii::escape_default(*b))
        .map(char::from)
        .collect();
    if text.len() > 300 {
        format!("{shown}... ({} bytes)", text.len())
    } else {
        shown
    }
}

fn run() -> ExitCode {
    let mut generate_count = 0u64;
    let mut seed = 1u64;
    let mut paths = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--generate" => generate_count = args.next().and_then(|n| n.parse().ok()).unwrap_or(0),
            "--seed" => seed = args.next().and_then(|n| n.parse().ok()).unwrap_or(1),
            _ => inputs(Path::new(&arg), &mut paths),
        }
    }
    let (mut checked, mut accepted, mut diverged) = (0u64, 0u64, 0u64);
    let mut report = |name: &str, text: &[u8]| {
        checked += 1;
        if serde_decode(text).is_ok() {
            accepted += 1;
        }
        let problems = check(text);
        if !problems.is_empty() {
            diverged += 1;
            if diverged <= 20 {
                eprintln!("json-diff: {name}: {}", escape(text));
                for p in problems {
                    eprintln!("  {p}");
                }
            }
        }
    };
    for path in &paths {
        match std::fs::read(path) {
            Ok(text) => report(&path.display().to_string(), &text),
            Err(e) => eprintln!("json-diff: {}: {e}", path.display()),
        }
    }
    let mut r = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    for i in 0..generate_count {
        let text = generate(&mut r);
        report(&format!("generated #{i} (seed {seed})"), &text);
    }
    println!(
        "json-diff: {checked} inputs ({} files, {generate_count} generated), {accepted} valid JSON, {diverged} diverged",
        paths.len()
    );
    if diverged > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn main() -> ExitCode {
    // serde_json without a depth limit, and dropping its values, recurse.
    std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(run)
        .expect("spawning the checker")
        .join()
        .expect("the checker panicked")
}
