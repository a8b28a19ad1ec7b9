//! The lint of `bext-lua check`: reads a plugin's source and reports
//!
//! * reads and writes of globals the plugin sandbox does not have, and reads
//!   of fields its libraries and `bext` do not have (`bext.midleware_continue`);
//! * a key of the plugin table (the table the chunk returns) within an edit
//!   or two of a capability method but not one (`on_requets`);
//! * locals (`local x`, `local function f`) never read, as warnings; names
//!   starting with `_` are exempt, as in luacheck. Parameters and loop
//!   variables are not reported.
//!
//! Why no crate: the Lua parsers on crates.io that know Lua 5.4 (full_moon,
//! the one selene uses) are MPL-2.0, which `deny.toml` does not allow; the
//! others stop at 5.1 or 5.3. The lint needs no syntax tree, only scopes, so
//! this is a small lexer and a recursive-descent walk over Lua 5.4's grammar
//! (attributes `<const>`/`<close>`, `goto`, integer division and bitwise
//! operators) that resolves names as it goes. A source it cannot parse is not
//! linted: the sandbox's own compiler reports the syntax error.

use std::collections::{BTreeMap, BTreeSet};

/// Every name a plugin sandbox's `_G` holds, with the fields of its tables
/// (`string.format`, `bext.shared.incr`), as dotted paths; `_G`'s own fields
/// are the globals. A test walks `_G` in a loaded plugin and compares.
pub const PLUGIN_ENVIRONMENT: &[&str] = &[
    "_G",
    "_VERSION",
    "assert",
    "bext",
    "bext.cache_event",
    "bext.emit_metric",
    "bext.get_config",
    "bext.json",
    "bext.json.array",
    "bext.json.decode",
    "bext.json.encode",
    "bext.json.null",
    "bext.lifecycle_event",
    "bext.log",
    "bext.middleware_continue",
    "bext.middleware_respond",
    "bext.shared",
    "bext.shared.add",
    "bext.shared.delete",
    "bext.shared.expire",
    "bext.shared.flush_all",
    "bext.shared.flush_expired",
    "bext.shared.get",
    "bext.shared.incr",
    "bext.shared.keys",
    "bext.shared.replace",
    "bext.shared.set",
    "bext.shared.ttl",
    "bext.transform_unchanged",
    "collectgarbage",
    "coroutine",
    "coroutine.close",
    "coroutine.create",
    "coroutine.isyieldable",
    "coroutine.resume",
    "coroutine.running",
    "coroutine.status",
    "coroutine.wrap",
    "coroutine.yield",
    "error",
    "getmetatable",
    "ipairs",
    "load",
    "math",
    "math.abs",
    "math.acos",
    "math.asin",
    "math.atan",
    "math.atan2",
    "math.ceil",
    "math.cos",
    "math.cosh",
    "math.deg",
    "math.exp",
    "math.floor",
    "math.fmod",
    "math.frexp",
    "math.huge",
    "math.ldexp",
    "math.log",
    "math.log10",
    "math.max",
    "math.maxinteger",
    "math.min",
    "math.mininteger",
    "math.modf",
    "math.pi",
    "math.pow",
    "math.rad",
    "math.random",
    "math.randomseed",
    "math.sin",
    "math.sinh",
    "math.sqrt",
    "math.tan",
    "math.tanh",
    "math.tointeger",
    "math.type",
    "math.ult",
    "next",
    "os",
    "os.clock",
    "os.date",
    "os.difftime",
    "os.time",
    "pairs",
    "pcall",
    "print",
    "rawequal",
    "rawget",
    "rawlen",
    "rawset",
    "select",
    "setmetatable",
    "string",
    "string.byte",
    "string.char",
    "string.find",
    "string.format",
    "string.gmatch",
    "string.gsub",
    "string.len",
    "string.lower",
    "string.match",
    "string.pack",
    "string.packsize",
    "string.rep",
    "string.reverse",
    "string.sub",
    "string.unpack",
    "string.upper",
    "table",
    "table.concat",
    "table.insert",
    "table.move",
    "table.pack",
    "table.remove",
    "table.sort",
    "table.unpack",
    "tonumber",
    "tostring",
    "type",
    "utf8",
    "utf8.char",
    "utf8.charpattern",
    "utf8.codepoint",
    "utf8.codes",
    "utf8.len",
    "utf8.offset",
    "warn",
    "xpcall",
];

/// Whether a finding stops `check` (exit status 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// A mistake the plugin would hit at run time.
    Error,
    /// Likely a mistake, harmless at run time.
    Warning,
}

/// One finding, at a 1-based line and column of the source.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Finding {
    /// The line, from 1.
    pub line: u32,
    /// The column (in bytes), from 1.
    pub col: u32,
    /// Error or warning.
    pub severity: Severity,
    /// What is wrong, in a sentence.
    pub message: String,
}

impl Finding {
    /// `file:line:col: error: message`.
    pub fn render(&self, file: &str) -> String {
        let kind = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        format!(
            "{file}:{}:{}: {kind}: {}",
            self.line, self.col, self.message
        )
    }
}

/// Lints `source` against the plugin environment and the capability method
/// names `methods`. `Err` when the source does not parse (the message names
/// the line).
pub fn lint(source: &str, methods: &[&str]) -> Result<Vec<Finding>, String> {
    let tokens = lex(source)?;
    let mut walk = Walk::new(tokens);
    let returned = walk.chunk()?;
    let mut findings = std::mem::take(&mut walk.findings);
    let keys = match returned {
        Some(Expr::Table(keys)) => keys,
        Some(Expr::Local(id)) => walk.table_keys.remove(&id).unwrap_or_default(),
        _ => Vec::new(),
    };
    for (key, line, col) in keys {
        if key == "priority" || methods.contains(&key.as_str()) {
            continue;
        }
        if let Some(near) = nearest(&key, methods.iter().copied()) {
            findings.push(Finding {
                line,
                col,
                severity: Severity::Error,
                message: format!("`{key}` is not a capability method: did you mean `{near}`?"),
            });
        }
    }
    findings.sort();
    findings.dedup();
    Ok(findings)
}

/// The closest of `candidates` to `name` (optimal string alignment distance:
/// a swap of two neighbours is one edit), within two edits for names of six
/// or more characters and one for shorter ones (two edits turn `get` into
/// `net` or `key`).
fn nearest<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .filter(|c| *c != name)
        .map(|c| (distance(name, c), c))
        .filter(|(d, c)| *d <= if c.len() >= 6 { 2 } else { 1 })
        .min()
        .map(|(_, c)| c)
}

fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

// ---- lexer ----

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Name(String),
    Keyword(&'static str),
    Sym(&'static str),
    Number,
    Str,
    Eof,
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    line: u32,
    col: u32,
}

const KEYWORDS: &[&str] = &[
    "and", "break", "do", "else", "elseif", "end", "false", "for", "function", "goto", "if", "in",
    "local", "nil", "not", "or", "repeat", "return", "then", "true", "until", "while",
];

/// Longest first, so `...` is not read as `..` and `.`.
const SYMBOLS: &[&str] = &[
    "...", "..", "==", "~=", "<=", ">=", "<<", ">>", "//", "::", "+", "-", "*", "/", "%", "^", "#",
    "&", "~", "|", "<", ">", "=", "(", ")", "{", "}", "[", "]", ";", ":", ",", ".",
];

struct Lexer<'a> {
    src: &'a [u8],
    pos: usize,
    line: u32,
    line_start: usize,
}

impl Lexer<'_> {
    fn peek(&self, ahead: usize) -> u8 {
        self.src.get(self.pos + ahead).copied().unwrap_or(0)
    }

    fn bump(&mut self) {
        if self.peek(0) == b'\n' {
            self.line += 1;
            self.line_start = self.pos + 1;
        }
        self.pos += 1;
    }

    /// At `[`: the level of a long bracket (`[==[` is 2), if one opens here.
    fn long_open(&self) -> Option<usize> {
        let mut level = 0;
        while self.peek(1 + level) == b'=' {
            level += 1;
        }
        (self.peek(1 + level) == b'[').then_some(level)
    }

    fn long_body(&mut self, level: usize) -> Result<(), String> {
        let line = self.line;
        self.pos += level + 2;
        loop {
            match self.peek(0) {
                0 if self.pos >= self.src.len() => {
                    return Err(format!("line {line}: unfinished long string or comment"));
                }
                b']' if (0..level).all(|i| self.peek(1 + i) == b'=')
                    && self.peek(1 + level) == b']' =>
                {
                    self.pos += level + 2;
                    return Ok(());
                }
                _ => self.bump(),
            }
        }
    }

    fn quoted(&mut self, quote: u8) -> Result<(), String> {
        let line = self.line;
        self.bump();
        loop {
            match self.peek(0) {
                c if c == quote => {
                    self.bump();
                    return Ok(());
                }
                b'\\' => {
                    self.bump();
                    self.bump();
                }
                b'\n' | 0 => return Err(format!("line {line}: unfinished string")),
                _ => self.bump(),
            }
        }
    }
}

fn lex(source: &str) -> Result<Vec<Token>, String> {
    let mut lx = Lexer {
        src: source.as_bytes(),
        pos: 0,
        line: 1,
        line_start: 0,
    };
    // A first line starting with `#` (a shebang) is skipped, as lua does.
    if source.starts_with('#') {
        while lx.pos < lx.src.len() && lx.peek(0) != b'\n' {
            lx.bump();
        }
    }
    let mut tokens = Vec::new();
    loop {
        let c = lx.peek(0);
        if lx.pos >= lx.src.len() {
            tokens.push(Token {
                tok: Tok::Eof,
                line: lx.line,
                col: (lx.pos - lx.line_start + 1) as u32,
            });
            return Ok(tokens);
        }
        if c.is_ascii_whitespace() {
            lx.bump();
            continue;
        }
        if c == b'-' && lx.peek(1) == b'-' {
            lx.pos += 2;
            if lx.peek(0) == b'['
                && let Some(level) = lx.long_open()
            {
                lx.long_body(level)?;
            } else {
                while lx.pos < lx.src.len() && lx.peek(0) != b'\n' {
                    lx.bump();
                }
            }
            continue;
        }
        let (line, col) = (lx.line, (lx.pos - lx.line_start + 1) as u32);
        let tok = if c.is_ascii_alphabetic() || c == b'_' {
            let start = lx.pos;
            while lx.peek(0).is_ascii_alphanumeric() || lx.peek(0) == b'_' {
                lx.bump();
            }
            let word = &source[start..lx.pos];
            match KEYWORDS.iter().find(|k| **k == word) {
                Some(k) => Tok::Keyword(k),
                None => Tok::Name(word.to_string()),
            }
        } else if c.is_ascii_digit() || (c == b'.' && lx.peek(1).is_ascii_digit()) {
            let hex = c == b'0' && matches!(lx.peek(1), b'x' | b'X');
            if hex {
                lx.pos += 2;
            }
            loop {
                let d = lx.peek(0);
                let exponent = if hex {
                    matches!(d, b'p' | b'P')
                } else {
                    matches!(d, b'e' | b'E')
                };
                if exponent && matches!(lx.peek(1), b'+' | b'-') {
                    lx.pos += 2;
                } else if d.is_ascii_alphanumeric() || d == b'.' {
                    lx.bump();
                } else {
                    break;
                }
            }
            Tok::Number
        } else if c == b'"' || c == b'\'' {
            lx.quoted(c)?;
            Tok::Str
        } else if c == b'[' && lx.long_open().is_some() {
            let level = lx.long_open().unwrap_or(0);
            lx.long_body(level)?;
            Tok::Str
        } else {
            let rest = &lx.src[lx.pos..];
            let Some(sym) = SYMBOLS.iter().find(|s| rest.starts_with(s.as_bytes())) else {
                return Err(format!("line {line}: unexpected character"));
            };
            lx.pos += sym.len();
            Tok::Sym(sym)
        };
        tokens.push(Token { tok, line, col });
    }
}

// ---- the walk ----

/// What the walk knows about an expression: enough to find the plugin
/// table and to tell a read of a name from a write.
enum Expr {
    /// A table constructor with the keys it names (`name = ...`), and where.
    Table(Vec<(String, u32, u32)>),
    /// A local variable, by its index in `Walk::locals`.
    Local(usize),
    /// A bare name not yet resolved: read in an expression, written as an
    /// assignment's target.
    Name(String, u32, u32),
    /// `base.name` as the last suffix: checked when read, not when assigned.
    Field(FieldAccess),
    Other,
}

struct FieldAccess {
    /// The dotted path of a known global table and the field (`bext.foo`).
    path: Option<(String, String)>,
    /// The local the field is set on when it is `local.name`.
    on_local: Option<usize>,
    name: String,
    line: u32,
    col: u32,
}

struct Local {
    name: String,
    line: u32,
    col: u32,
    read: bool,
    /// Reported when never read (`local` statements and functions).
    report: bool,
    function: bool,
}

struct Walk {
    tokens: Vec<Token>,
    pos: usize,
    locals: Vec<Local>,
    scopes: Vec<Vec<usize>>,
    /// Nesting of function bodies (0 is the main chunk).
    depth: usize,
    /// Keys set on the main chunk's locals (`local M = {...}`, `function
    /// M.name`, `M.name = ...`), by local.
    table_keys: BTreeMap<usize, Vec<(String, u32, u32)>>,
    environment: BTreeSet<&'static str>,
    findings: Vec<Finding>,
}

type Res<T> = Result<T, String>;

impl Walk {
    fn new(tokens: Vec<Token>) -> Self {
        Walk {
            tokens,
            pos: 0,
            locals: Vec::new(),
            scopes: Vec::new(),
            depth: 0,
            table_keys: BTreeMap::new(),
            environment: PLUGIN_ENVIRONMENT.iter().copied().collect(),
            findings: Vec::new(),
        }
    }

    fn tok(&self) -> &Tok {
        &self.tokens[self.pos].tok
    }

    fn at(&self) -> (u32, u32) {
        let t = &self.tokens[self.pos];
        (t.line, t.col)
    }

    fn is(&self, sym: &str) -> bool {
        matches!(self.tok(), Tok::Sym(s) | Tok::Keyword(s) if *s == sym)
    }

    fn accept(&mut self, sym: &str) -> bool {
        let yes = self.is(sym);
        if yes {
            self.pos += 1;
        }
        yes
    }

    fn expect(&mut self, sym: &str) -> Res<()> {
        if self.accept(sym) {
            Ok(())
        } else {
            Err(format!("line {}: `{sym}` expected", self.at().0))
        }
    }

    fn name(&mut self) -> Res<(String, u32, u32)> {
        let (line, col) = self.at();
        match self.tok().clone() {
            Tok::Name(n) => {
                self.pos += 1;
                Ok((n, line, col))
            }
            _ => Err(format!("line {line}: a name expected")),
        }
    }

    fn finding(&mut self, line: u32, col: u32, severity: Severity, message: String) {
        self.findings.push(Finding {
            line,
            col,
            severity,
            message,
        });
    }

    // ---- scopes ----

    fn open(&mut self) {
        self.scopes.push(Vec::new());
    }

    fn close(&mut self) {
        for id in self.scopes.pop().unwrap_or_default() {
            let local = &self.locals[id];
            if local.report && !local.read && !local.name.starts_with('_') {
                let what = if local.function {
                    "local function"
                } else {
                    "local"
                };
                let message = format!("unused {what} `{}`", local.name);
                let (line, col) = (local.line, local.col);
                self.finding(line, col, Severity::Warning, message);
            }
        }
    }

    fn declare(&mut self, (name, line, col): (String, u32, u32), report: bool) -> usize {
        let id = self.locals.len();
        self.locals.push(Local {
            name,
            line,
            col,
            read: false,
            report,
            function: false,
        });
        if let Some(scope) = self.scopes.last_mut() {
            scope.push(id);
        }
        id
    }

    fn resolve(&self, name: &str) -> Option<usize> {
        self.scopes
            .iter()
            .rev()
            .flat_map(|s| s.iter().rev())
            .copied()
            .find(|id| self.locals[*id].name == name)
    }

    /// A read of `name`: marks a local read, checks a global.
    fn read(&mut self, name: &str, line: u32, col: u32) -> Option<usize> {
        if let Some(id) = self.resolve(name) {
            self.locals[id].read = true;
            return Some(id);
        }
        if name != "_ENV" && !self.environment.contains(name) {
            let hint = self.hint(name, "");
            self.finding(
                line,
                col,
                Severity::Error,
                format!("undefined global `{name}`: the plugin sandbox has no such global{hint}"),
            );
        }
        None
    }

    fn write(&mut self, name: &str, line: u32, col: u32) {
        if self.resolve(name).is_some() || name == "_ENV" || self.environment.contains(name) {
            return;
        }
        let hint = self.hint(name, "");
        self.finding(
            line,
            col,
            Severity::Error,
            format!("assignment to undefined global `{name}`: declare it `local`{hint}"),
        );
    }

    /// "; did you mean `x`?" among the environment's names under `parent`.
    fn hint(&self, name: &str, parent: &str) -> String {
        let siblings = self.environment.iter().filter_map(|p| {
            let rest = if parent.is_empty() {
                Some(*p)
            } else {
                p.strip_prefix(parent)?.strip_prefix('.')
            }?;
            (!rest.contains('.')).then_some(rest)
        });
        match nearest(name, siblings) {
            Some(near) if parent.is_empty() => format!("; did you mean `{near}`?"),
            Some(near) => format!("; did you mean `{parent}.{near}`?"),
            None => String::new(),
        }
    }

    fn has_fields(&self, path: &str) -> bool {
        let prefix = format!("{path}.");
        self.environment
            .range(prefix.as_str()..)
            .next()
            .is_some_and(|p| p.starts_with(&prefix))
    }

    /// A read of `parent.name` where `parent` is a table of the environment.
    fn check_field(&mut self, access: &FieldAccess) {
        if let Some((parent, name)) = &access.path {
            let full = format!("{parent}.{name}");
            if !self.environment.contains(full.as_str()) && self.has_fields(parent) {
                let hint = self.hint(name, parent);
                self.finding(
                    access.line,
                    access.col,
                    Severity::Error,
                    format!("undefined field `{full}`: the plugin sandbox's `{parent}` has no `{name}`{hint}"),
                );
            }
        }
    }

    // ---- grammar ----

    /// The main chunk; returns what its final `return` returns.
    fn chunk(&mut self) -> Res<Option<Expr>> {
        self.open();
        let returned = self.block()?;
        if !matches!(self.tok(), Tok::Eof) {
            return Err(format!("line {}: `<eof>` expected", self.at().0));
        }
        self.close();
        Ok(returned)
    }

    fn block_end(&self) -> bool {
        matches!(self.tok(), Tok::Eof)
            || ["end", "else", "elseif", "until"]
                .iter()
                .any(|k| self.is(k))
    }

    /// Statements up to the block's end; returns the first expression of a
    /// final `return`.
    fn block(&mut self) -> Res<Option<Expr>> {
        while !self.block_end() {
            if self.accept("return") {
                let mut first = None;
                if !self.block_end() && !self.is(";") {
                    first = Some(self.expr()?);
                    while self.accept(",") {
                        self.expr()?;
                    }
                }
                self.accept(";");
                return Ok(first);
            }
            self.statement()?;
        }
        Ok(None)
    }

    fn scoped_block(&mut self) -> Res<()> {
        self.open();
        self.block()?;
        self.close();
        Ok(())
    }

    fn statement(&mut self) -> Res<()> {
        let (line, col) = self.at();
        if self.accept(";") || self.accept("break") {
        } else if self.accept("::") {
            self.name()?;
            self.expect("::")?;
        } else if self.accept("goto") {
            self.name()?;
        } else if self.accept("do") {
            self.scoped_block()?;
            self.expect("end")?;
        } else if self.accept("while") {
            self.expr()?;
            self.expect("do")?;
            self.scoped_block()?;
            self.expect("end")?;
        } else if self.accept("repeat") {
            // `until`'s condition sees the body's locals.
            self.open();
            self.block()?;
            self.expect("until")?;
            self.expr()?;
            self.close();
        } else if self.accept("if") {
            self.expr()?;
            self.expect("then")?;
            self.scoped_block()?;
            while self.accept("elseif") {
                self.expr()?;
                self.expect("then")?;
                self.scoped_block()?;
            }
            if self.accept("else") {
                self.scoped_block()?;
            }
            self.expect("end")?;
        } else if self.accept("for") {
            self.for_loop()?;
        } else if self.accept("function") {
            self.function_statement()?;
        } else if self.accept("local") {
            if self.accept("function") {
                let name = self.name()?;
                let id = self.declare(name, true);
                self.locals[id].function = true;
                self.body(false)?;
            } else {
                self.local_statement()?;
            }
        } else {
            self.expression_statement(line, col)?;
        }
        Ok(())
    }

    fn for_loop(&mut self) -> Res<()> {
        let first = self.name()?;
        let mut names = vec![first];
        if self.accept("=") {
            self.expr()?;
            self.expect(",")?;
            self.expr()?;
            if self.accept(",") {
                self.expr()?;
            }
        } else {
            while self.accept(",") {
                names.push(self.name()?);
            }
            self.expect("in")?;
            self.expr_list()?;
        }
        self.expect("do")?;
        self.open();
        for name in names {
            self.declare(name, false);
        }
        self.scoped_block()?;
        self.close();
        self.expect("end")
    }

    fn function_statement(&mut self) -> Res<()> {
        let (name, line, col) = self.name()?;
        let mut keys = Vec::new();
        let mut method = false;
        while self.is(".") || self.is(":") {
            method = self.is(":");
            self.pos += 1;
            keys.push(self.name()?);
            if method {
                break;
            }
        }
        if keys.is_empty() {
            self.write(&name, line, col);
        } else {
            let base = self.read(&name, line, col);
            if keys.len() == 1
                && self.depth == 0
                && let Some(id) = base
            {
                self.table_keys.entry(id).or_default().push(keys[0].clone());
            }
        }
        self.body(method)
    }

    fn local_statement(&mut self) -> Res<()> {
        let mut names = Vec::new();
        loop {
            let name = self.name()?;
            let mut report = true;
            if self.accept("<") {
                let (attribute, line, _) = self.name()?;
                if attribute == "close" {
                    report = false; // read by its `__close` at the scope's end
                } else if attribute != "const" {
                    return Err(format!("line {line}: unknown attribute `{attribute}`"));
                }
                self.expect(">")?;
            }
            names.push((name, report));
            if !self.accept(",") {
                break;
            }
        }
        let mut first = None;
        if self.accept("=") {
            first = Some(self.expr()?);
            while self.accept(",") {
                self.expr()?;
            }
        }
        let single = names.len() == 1;
        for (name, report) in names {
            let id = self.declare(name, report);
            if single
                && self.depth == 0
                && let Some(Expr::Table(keys)) = first.take()
            {
                self.table_keys.insert(id, keys);
            }
        }
        Ok(())
    }

    fn expression_statement(&mut self, line: u32, col: u32) -> Res<()> {
        let first = self.suffixed()?;
        if self.is("=") || self.is(",") {
            let mut targets = vec![first];
            while self.accept(",") {
                targets.push(self.suffixed()?);
            }
            self.expect("=")?;
            self.expr_list()?;
            for target in targets {
                match target {
                    Expr::Name(name, line, col) => self.write(&name, line, col),
                    Expr::Field(access) => {
                        if self.depth == 0
                            && let Some(id) = access.on_local
                        {
                            let key = (access.name.clone(), access.line, access.col);
                            self.table_keys.entry(id).or_default().push(key);
                        }
                    }
                    Expr::Other => {}
                    _ => return Err(format!("line {line}: cannot assign to this expression")),
                }
            }
        } else {
            match first {
                Expr::Other => {}
                _ => return Err(format!("line {line}:{col}: a call or assignment expected")),
            }
        }
        Ok(())
    }

    /// Parameters and body of a function, after `function [name]`.
    fn body(&mut self, method: bool) -> Res<()> {
        self.depth += 1;
        self.open();
        if method {
            let (line, col) = self.at();
            self.declare(("self".into(), line, col), false);
        }
        self.expect("(")?;
        if !self.is(")") {
            loop {
                if self.accept("...") {
                    break;
                }
                let name = self.name()?;
                self.declare(name, false);
                if !self.accept(",") {
                    break;
                }
            }
        }
        self.expect(")")?;
        self.block()?;
        self.expect("end")?;
        self.close();
        self.depth -= 1;
        Ok(())
    }

    fn expr_list(&mut self) -> Res<()> {
        self.expr()?;
        while self.accept(",") {
            self.expr()?;
        }
        Ok(())
    }

    /// An expression, read: names resolved, fields checked. Precedence does
    /// not matter to the lint, so binary operators are taken left to right.
    fn expr(&mut self) -> Res<Expr> {
        let mut operand = true;
        while self.accept("not") || self.accept("-") || self.accept("#") || self.accept("~") {
            operand = false;
        }
        let first = self.simple()?;
        let mut result = if operand { first } else { Expr::Other };
        loop {
            let binary = ["and", "or"].iter().any(|k| self.is(k))
                || matches!(self.tok(), Tok::Sym(s) if [
                    "+", "-", "*", "/", "//", "%", "^", "..", "==", "~=", "<", "<=", ">",
                    ">=", "&", "|", "~", "<<", ">>",
                ].contains(s));
            if !binary {
                break;
            }
            self.pos += 1;
            self.expr()?;
            result = Expr::Other;
        }
        Ok(result)
    }

    fn simple(&mut self) -> Res<Expr> {
        match self.tok().clone() {
            Tok::Number | Tok::Str => {
                self.pos += 1;
                Ok(Expr::Other)
            }
            Tok::Keyword("nil" | "true" | "false") | Tok::Sym("...") => {
                self.pos += 1;
                Ok(Expr::Other)
            }
            Tok::Sym("{") => self.constructor(),
            Tok::Keyword("function") => {
                self.pos += 1;
                self.body(false)?;
                Ok(Expr::Other)
            }
            _ => {
                let e = self.suffixed()?;
                Ok(self.settle(e))
            }
        }
    }

    /// Reads what `suffixed` left pending.
    fn settle(&mut self, e: Expr) -> Expr {
        match e {
            Expr::Name(name, line, col) => match self.read(&name, line, col) {
                Some(id) => Expr::Local(id),
                None => Expr::Other,
            },
            Expr::Field(access) => {
                self.check_field(&access);
                Expr::Other
            }
            other => other,
        }
    }

    fn constructor(&mut self) -> Res<Expr> {
        self.expect("{")?;
        let mut keys = Vec::new();
        while !self.is("}") {
            if self.accept("[") {
                self.expr()?;
                self.expect("]")?;
                self.expect("=")?;
                self.expr()?;
            } else if matches!(self.tok(), Tok::Name(_))
                && matches!(
                    self.tokens.get(self.pos + 1).map(|t| &t.tok),
                    Some(Tok::Sym("="))
                )
            {
                keys.push(self.name()?);
                self.pos += 1;
                self.expr()?;
            } else {
                self.expr()?;
            }
            if !self.accept(",") && !self.accept(";") {
                break;
            }
        }
        self.expect("}")?;
        Ok(Expr::Table(keys))
    }

    /// A name or parenthesised expression and its suffixes. The last bare
    /// name or `.field` is left pending (`Expr::Name`/`Expr::Field`) for the
    /// caller: read in an expression, written by an assignment.
    fn suffixed(&mut self) -> Res<Expr> {
        let mut current = if self.accept("(") {
            self.expr()?;
            self.expect(")")?;
            Expr::Other
        } else {
            let (name, line, col) = self.name()?;
            Expr::Name(name, line, col)
        };
        loop {
            if self.is(".") || self.is(":") {
                let colon = self.is(":");
                self.pos += 1;
                let (name, line, col) = self.name()?;
                let (path, on_local) = match current {
                    Expr::Name(base, bl, bc) => match self.read(&base, bl, bc) {
                        Some(id) => (None, Some(id)),
                        None => (
                            self.environment.contains(base.as_str()).then_some(base),
                            None,
                        ),
                    },
                    Expr::Field(access) => {
                        self.check_field(&access);
                        let path = access.path.and_then(|(parent, field)| {
                            let full = format!("{parent}.{field}");
                            self.environment.contains(full.as_str()).then_some(full)
                        });
                        (path, None)
                    }
                    _ => (None, None),
                };
                current = Expr::Field(FieldAccess {
                    path: path.map(|p| (p, name.clone())),
                    on_local,
                    name,
                    line,
                    col,
                });
                if colon {
                    let Expr::Field(access) = current else {
                        unreachable!()
                    };
                    self.check_field(&access);
                    self.arguments()?;
                    current = Expr::Other;
                }
            } else if self.accept("[") {
                self.settle(current);
                self.expr()?;
                self.expect("]")?;
                current = Expr::Field(FieldAccess {
                    path: None,
                    on_local: None,
                    name: String::new(),
                    line: 0,
                    col: 0,
                });
            } else if self.is("(") || self.is("{") || matches!(self.tok(), Tok::Str) {
                self.settle(current);
                self.arguments()?;
                current = Expr::Other;
            } else {
                return Ok(current);
            }
        }
    }

    fn arguments(&mut self) -> Res<()> {
        if self.accept("(") {
            if !self.is(")") {
                self.expr_list()?;
            }
            self.expect(")")
        } else if self.is("{") {
            self.constructor().map(drop)
        } else if matches!(self.tok(), Tok::Str) {
            self.pos += 1;
            Ok(())
        } else {
            Err(format!("line {}: function arguments expected", self.at().0))
        }
    }
}
