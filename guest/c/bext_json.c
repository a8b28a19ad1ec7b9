/* bext.json: JSON encoding and decoding for plugin scripts.
 *
 *   bext.json.encode(value) -> string     bext.json.decode(string) -> value
 *   bext.json.null                        the value JSON null decodes to
 *   bext.json.array([t]) -> t             marks t (or a new table) as an array
 *
 * Mapping (README.md, "bext.json", says the same for script authors):
 *
 *   JSON                  Lua
 *   null                  bext.json.null (a light userdata); a nil hole in an
 *                         array encodes as null, and so does a top-level nil
 *   true / false          booleans
 *   -12, 7 (no fraction   integers, when they fit in 64 bits; larger ones
 *   or exponent)          decode as floats
 *   1.5, 1e3, 2.0         floats; a float always encodes with a fraction or
 *                         an exponent ("2.0", "1e+300") so it decodes as a
 *                         float again, with the fewest digits (at most 17)
 *                         that read back as the same double
 *   "text"                strings; UTF-8 is validated both ways; encoding
 *                         escapes ", \ and control characters
 *   [ ... ]               a table marked by bext.json.array (decoded arrays
 *                         are marked), or an unmarked non-empty table whose
 *                         keys are all positive integers; holes encode as
 *                         null; more than half holes (past index 10) is an
 *                         error, as in lua-cjson
 *   { ... }               any other table, the empty table included; keys
 *                         must be strings or numbers (numbers are written in
 *                         decimal); duplicate keys in input: the last wins
 *
 * Functions, userdata (other than bext.json.null), threads, NaN and
 * infinities, cycles and invalid UTF-8 are errors. Metatables are ignored
 * (raw access) except for the array marker. Errors are Lua errors:
 * "bext.json.decode: <what> at position N" (N: 1-based byte offset) and
 * "bext.json.encode: <what> (at $.path[2].to.value)".
 *
 * Both directions are iterative, keeping one frame per open array or object,
 * and refuse more than BEXT_JSON_MAX_DEPTH levels: hostile nesting is a Lua
 * error, never deep C recursion. Stack contract: encode and decode use 4 Lua
 * stack slots plus 2 per level (checked with luaL_checkstack), and return
 * one value. */
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bext_json.h"
#include "lauxlib.h"
#include "lua.h"

#define MAX_DEPTH BEXT_JSON_MAX_DEPTH
/* Frames kept on the C stack; deeper documents move them to a userdata. */
#define LOCAL_FRAMES 32

/* Its address is bext.json.null. */
static const char null_sentinel = 0;
#define JSON_NULL ((void *)&null_sentinel)
/* Registry key (by address) of the array marker metatable. */
static const char array_mt_key = 0;

/* ---- frames: one per open array or object ---- */

enum { FRAME_ARRAY, FRAME_OBJECT };

typedef struct {
    lua_Integer i;     /* arrays: elements done so far; objects (encode): members done */
    lua_Integer n;     /* encode, arrays: the length */
    const void *table; /* encode: identity, for cycle detection */
    int slot;          /* encode: stack index of the table; the key is at slot + 1 */
    int kind;
} frame;

typedef struct {
    frame local[LOCAL_FRAMES];
    frame *f;
    int depth;
    int slot; /* stack slot that anchors heap frames */
} frames;

static void frames_init(frames *fs, int slot) {
    fs->f = fs->local;
    fs->depth = 0;
    fs->slot = slot;
}

/* A new innermost frame; the caller has checked the depth limit. Uses 1 stack
 * slot transiently. */
static frame *frames_push(lua_State *L, frames *fs) {
    if (fs->depth == LOCAL_FRAMES && fs->f == fs->local) {
        frame *big = (frame *)lua_newuserdatauv(L, sizeof(frame) * MAX_DEPTH, 0);
        memcpy(big, fs->local, sizeof fs->local);
        lua_replace(L, fs->slot);
        fs->f = big;
    }
    return &fs->f[fs->depth++];
}

/* ---- UTF-8 ---- */

/* Length (1-4) of the well-formed UTF-8 sequence at p, or 0: overlong forms,
 * surrogates and code points past U+10FFFF are ill-formed (RFC 3629). */
static size_t utf8_len(const unsigned char *p, const unsigned char *end) {
    unsigned c = p[0];
    size_t avail = (size_t)(end - p);
    if (c < 0x80) return 1;
    if (c < 0xC2) return 0;
    if (c < 0xE0) return avail >= 2 && (p[1] & 0xC0) == 0x80 ? 2 : 0;
    if (c < 0xF0) {
        if (avail < 3 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80) return 0;
        if ((c == 0xE0 && p[1] < 0xA0) || (c == 0xED && p[1] >= 0xA0)) return 0;
        return 3;
    }
    if (c < 0xF5) {
        if (avail < 4 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80 || (p[3] & 0xC0) != 0x80) return 0;
        if ((c == 0xF0 && p[1] < 0x90) || (c == 0xF4 && p[1] >= 0x90)) return 0;
        return 4;
    }
    return 0;
}

static size_t utf8_put(char *out, uint32_t cp) {
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* ---- encoding ---- */

/* The output: a growable buffer in a userdata anchored at `slot`, so a Lua
 * error anywhere leaves nothing to free. */
typedef struct {
    lua_State *L;
    char *p;
    size_t n, cap;
    int slot;
} jbuf;

/* Makes room for `extra` more bytes. Uses 1 stack slot transiently. */
static void jb_reserve(jbuf *b, size_t extra) {
    if (b->cap - b->n >= extra) return;
    size_t cap = b->cap;
    while (cap - b->n < extra) {
        if (cap > (size_t)-1 / 2) luaL_error(b->L, "bext.json.encode: the result is too large");
        cap *= 2;
    }
    char *p = (char *)lua_newuserdatauv(b->L, cap, 0);
    memcpy(p, b->p, b->n);
    lua_replace(b->L, b->slot);
    b->p = p;
    b->cap = cap;
}

static void jb_add(jbuf *b, const char *s, size_t n) {
    jb_reserve(b, n);
    memcpy(b->p + b->n, s, n);
    b->n += n;
}

static void jb_char(jbuf *b, char c) {
    jb_reserve(b, 1);
    b->p[b->n++] = c;
}

/* Raises "bext.json.encode: <what> (at $.a[2])", the path read from the open
 * frames. */
static _Noreturn void encode_fail(lua_State *L, const frames *fs, const char *what) {
    /* The per-level reserve may be used up here (the table, its key, the
     * value, a message the caller pushed); a path longer than
     * LUAL_BUFFERSIZE moves the buffer into a box with a metatable, which
     * takes 4 more slots. */
    luaL_checkstack(L, LUA_MINSTACK, "bext.json.encode: nested too deep");
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    luaL_addstring(&b, "bext.json.encode: ");
    luaL_addstring(&b, what);
    if (fs->depth > 0) {
        luaL_addstring(&b, " (at $");
        for (int d = 0; d < fs->depth; d++) {
            const frame *f = &fs->f[d];
            char tmp[48];
            if (f->kind == FRAME_ARRAY) {
                snprintf(tmp, sizeof tmp, "[%lld]", (long long)f->i);
                luaL_addstring(&b, tmp);
            } else if (lua_type(L, f->slot + 1) == LUA_TSTRING) {
                size_t n;
                const char *key = lua_tolstring(L, f->slot + 1, &n);
                luaL_addchar(&b, '.');
                luaL_addlstring(&b, key, n > 64 ? 64 : n);
            } else if (lua_isinteger(L, f->slot + 1)) {
                snprintf(tmp, sizeof tmp, "[%lld]", (long long)lua_tointeger(L, f->slot + 1));
                luaL_addstring(&b, tmp);
            } else {
                snprintf(tmp, sizeof tmp, "[<%s key>]", luaL_typename(L, f->slot + 1));
                luaL_addstring(&b, tmp);
            }
        }
        luaL_addchar(&b, ')');
    }
    luaL_pushresult(&b);
    lua_error(L);
    __builtin_unreachable(); /* lua_error longjmps */
}

static void encode_string(lua_State *L, jbuf *b, const frames *fs, const char *s, size_t len) {
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s, *end = p + len, *run = p;
    jb_reserve(b, len + 2);
    b->p[b->n++] = '"';
    while (p < end) {
        unsigned c = *p;
        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
            p++;
            continue;
        }
        if (c >= 0x80) {
            size_t k = utf8_len(p, end);
            if (k == 0) {
                char what[64];
                snprintf(what, sizeof what, "invalid UTF-8 in a string (byte %u)", (unsigned)(p - (const unsigned char *)s) + 1);
                encode_fail(L, fs, what);
            }
            p += k;
            continue;
        }
        jb_add(b, (const char *)run, (size_t)(p - run));
        char esc[6] = {'\\', 0, 0, 0, 0, 0};
        size_t n = 2;
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        default:
            esc[1] = 'u', esc[2] = '0', esc[3] = '0', esc[4] = hex[c >> 4], esc[5] = hex[c & 15];
            n = 6;
        }
        jb_add(b, esc, n);
        run = ++p;
    }
    jb_add(b, (const char *)run, (size_t)(p - run));
    jb_char(b, '"');
}

static void encode_integer(jbuf *b, lua_Integer v) {
    char tmp[24];
    int n = 0;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0) tmp[n++] = '-';
    jb_reserve(b, (size_t)n);
    while (n) b->p[b->n++] = tmp[--n];
}

/* Exact powers of ten (10^22 is the largest exact double power of ten). */
static const double pow10_exact[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                     1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
#define TWO_POW_53 9007199254740992.0

/* Fast path for floats with a short decimal form (7.25, 0.1, 1234.5): the
 * fewest decimals k such that m / 10^k == x for an integer m < 2^53. Since
 * m and 10^k are exact and the division is correctly rounded, the text
 * "m with k decimals" reads back as x, and no shorter fraction does.
 * Returns the length written to `out`, or 0 when the slow path must run. */
static int format_short_float(char *out, double x) {
    double a = fabs(x);
    if (!(a >= 1e-5 && a < 1e15)) return 0;
    for (int k = 0; k <= 17; k++) {
        double scaled = a * pow10_exact[k];
        if (scaled >= TWO_POW_53) return 0;
        double m = nearbyint(scaled);
        if (m / pow10_exact[k] != a) continue;
        char digits[24];
        int nd = 0;
        uint64_t u = (uint64_t)m;
        do {
            digits[nd++] = (char)('0' + u % 10);
            u /= 10;
        } while (u);
        while (nd <= k) digits[nd++] = '0'; /* at least one digit before the point */
        int n = 0;
        if (x < 0) out[n++] = '-';
        while (nd > k) out[n++] = digits[--nd];
        out[n++] = '.';
        if (k == 0) out[n++] = '0';
        while (nd > 0) out[n++] = digits[--nd];
        return n;
    }
    return 0;
}

static void encode_float(lua_State *L, jbuf *b, const frames *fs, double x) {
    if (!isfinite(x)) encode_fail(L, fs, x != x ? "cannot encode NaN" : "cannot encode an infinite number");
    char out[40];
    int n = format_short_float(out, x);
    if (n > 0) {
        jb_add(b, out, (size_t)n);
        return;
    }
    /* For a normal double, "%.15g" is the shortest form whenever one of 15
     * digits or fewer exists: every decimal of up to 15 digits (DBL_DIG)
     * survives a trip through a double, so the one that reads back as x is
     * what x rounds to. A subnormal has fewer significant bits, so its
     * shortest form can have fewer digits than "%.15g" prints
     * (1e-320 would come out as 9.99988867182683e-321): search from 1. */
    int prec = fabs(x) < DBL_MIN ? 1 : 15;
    for (; prec <= 17; prec++) {
        n = snprintf(out, sizeof out - 2, "%.*g", prec, x);
        if (strtod(out, NULL) == x) break;
    }
    if (!strpbrk(out, ".eE")) out[n++] = '.', out[n++] = '0'; /* stays a float when decoded */
    jb_add(b, out, (size_t)n);
}

static void encode_scalar(lua_State *L, jbuf *b, const frames *fs, int idx) {
    switch (lua_type(L, idx)) {
    case LUA_TNIL: jb_add(b, "null", 4); break;
    case LUA_TBOOLEAN:
        if (lua_toboolean(L, idx))
            jb_add(b, "true", 4);
        else
            jb_add(b, "false", 5);
        break;
    case LUA_TNUMBER:
        if (lua_isinteger(L, idx))
            encode_integer(b, lua_tointeger(L, idx));
        else
            encode_float(L, b, fs, lua_tonumber(L, idx));
        break;
    case LUA_TSTRING: {
        size_t n;
        const char *s = lua_tolstring(L, idx, &n);
        encode_string(L, b, fs, s, n);
        break;
    }
    case LUA_TLIGHTUSERDATA:
        if (lua_touserdata(L, idx) == JSON_NULL) {
            jb_add(b, "null", 4);
            break;
        }
        /* fall through */
    default:
        encode_fail(L, fs, lua_pushfstring(L, "cannot encode a %s value", luaL_typename(L, idx)));
    }
}

/* An object key: strings as they are, numbers in decimal. Never converts the
 * key in place (lua_next needs it intact). */
static void encode_key(lua_State *L, jbuf *b, const frames *fs, int idx) {
    switch (lua_type(L, idx)) {
    case LUA_TSTRING: {
        size_t n;
        const char *s = lua_tolstring(L, idx, &n);
        encode_string(L, b, fs, s, n);
        break;
    }
    case LUA_TNUMBER:
        jb_char(b, '"');
        if (lua_isinteger(L, idx))
            encode_integer(b, lua_tointeger(L, idx));
        else
            encode_float(L, b, fs, lua_tonumber(L, idx));
        jb_char(b, '"');
        break;
    default: encode_fail(L, fs, lua_pushfstring(L, "a table key of type %s cannot be encoded", luaL_typename(L, idx)));
    }
}

/* The array length of the table at `t`, or -1 when it encodes as an object.
 * Uses 2 stack slots. */
static lua_Integer array_length(lua_State *L, int t, int marked, const frames *fs) {
    lua_Integer count = 0, max = 0;
    lua_pushnil(L);
    while (lua_next(L, t)) {
        lua_pop(L, 1);
        lua_Integer k = lua_isinteger(L, -1) ? lua_tointeger(L, -1) : 0;
        if (k < 1) {
            if (!marked) {
                lua_pop(L, 1);
                return -1;
            }
            const char *what = lua_type(L, -1) == LUA_TSTRING
                                   ? lua_pushfstring(L, "a table marked as an array has the key '%s'", lua_tostring(L, -1))
                                   : lua_pushfstring(L, "a table marked as an array has a %s key", luaL_typename(L, -1));
            encode_fail(L, fs, what);
        }
        count++;
        if (k > max) max = k;
    }
    if (count == 0) return marked ? 0 : -1;
    if (max > 10 && max / 2 > count)
        encode_fail(L, fs,
                    lua_pushfstring(L, "sparse array (%I values up to index %I): fill the holes with bext.json.null or use string keys",
                                    (LUAI_UACINT)count, (LUAI_UACINT)max));
    return max;
}

int bext_json_encode(lua_State *L) {
    enum { VALUE = 1, BUF, FRAMES, ARRAY_MT };
    luaL_checkany(L, 1);
    lua_settop(L, 1);
    jbuf b = {L, NULL, 0, 256, BUF};
    b.p = (char *)lua_newuserdatauv(L, b.cap, 0);     /* BUF */
    lua_pushnil(L);                                    /* FRAMES */
    lua_rawgetp(L, LUA_REGISTRYINDEX, &array_mt_key); /* ARRAY_MT */
    frames fs;
    frames_init(&fs, FRAMES);
    lua_pushvalue(L, VALUE);
    /* Loop invariant: the value to encode next is at the top of the stack,
     * above the open frames (each a table, plus its current key for objects). */
    for (;;) {
        if (lua_type(L, -1) != LUA_TTABLE) {
            encode_scalar(L, &b, &fs, -1);
            lua_pop(L, 1);
        } else {
            if (fs.depth == MAX_DEPTH) encode_fail(L, &fs, "nested too deep (more than 1000 levels)");
            const void *id = lua_topointer(L, -1);
            for (int d = 0; d < fs.depth; d++)
                if (fs.f[d].table == id) encode_fail(L, &fs, "cycle: a table contains itself");
            luaL_checkstack(L, 6, "bext.json.encode: nested too deep");
            int t = lua_gettop(L), marked = 0;
            if (lua_getmetatable(L, t)) {
                marked = lua_rawequal(L, -1, ARRAY_MT);
                lua_pop(L, 1);
            }
            lua_Integer n = array_length(L, t, marked, &fs);
            frame *f = frames_push(L, &fs);
            f->table = id;
            f->slot = t;
            f->i = 0;
            if (n >= 0) {
                f->kind = FRAME_ARRAY;
                f->n = n;
                jb_char(&b, '[');
            } else {
                f->kind = FRAME_OBJECT;
                jb_char(&b, '{');
                lua_pushnil(L); /* the first key */
            }
        }
        /* Find the next value, closing the frames that are done. */
        for (;;) {
            if (fs.depth == 0) {
                lua_pushlstring(L, b.p, b.n);
                return 1;
            }
            frame *f = &fs.f[fs.depth - 1];
            if (f->kind == FRAME_ARRAY) {
                if (f->i < f->n) {
                    if (f->i > 0) jb_char(&b, ',');
                    lua_rawgeti(L, f->slot, ++f->i); /* a hole is nil: null */
                    break;
                }
                jb_char(&b, ']');
            } else {
                if (lua_next(L, f->slot)) {
                    if (f->i++ > 0) jb_char(&b, ',');
                    encode_key(L, &b, &fs, f->slot + 1);
                    jb_char(&b, ':');
                    break;
                }
                jb_char(&b, '}');
            }
            lua_pop(L, 1); /* the finished table */
            fs.depth--;
        }
    }
}

/* ---- decoding ---- */

typedef struct {
    lua_State *L;
    const char *s, *p, *end;
} decoder;

static _Noreturn void decode_fail(decoder *d, const char *what) {
    /* A failure inside a string being built finds the per-level reserve
     * used by the buffer's box; luaL_error pushes 2 more. */
    luaL_checkstack(d->L, LUA_MINSTACK, "bext.json.decode: nested too deep");
    luaL_error(d->L, "bext.json.decode: %s at position %I", what, (LUAI_UACINT)(d->p - d->s + 1));
    __builtin_unreachable(); /* luaL_error longjmps */
}

/* "unexpected ... (expected <expected>)" for the byte at d->p. */
static _Noreturn void unexpected(decoder *d, const char *expected) {
    char what[96];
    if (d->p >= d->end) {
        snprintf(what, sizeof what, "unexpected end of input (expected %s)", expected);
    } else {
        unsigned c = (unsigned char)*d->p;
        if (c >= 0x20 && c < 0x7F)
            snprintf(what, sizeof what, "unexpected character '%c' (expected %s)", (char)c, expected);
        else
            snprintf(what, sizeof what, "unexpected byte 0x%02X (expected %s)", c, expected);
    }
    decode_fail(d, what);
}

static void skip_ws(decoder *d) {
    while (d->p < d->end && (*d->p == ' ' || *d->p == '\n' || *d->p == '\r' || *d->p == '\t')) d->p++;
}

static int hex4(const unsigned char *p, uint32_t *out) {
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= c - '0';
        else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
            v |= (c | 0x20) - 'a' + 10;
        else
            return 0;
    }
    *out = v;
    return 1;
}

/* Pushes the string whose opening quote is at d->p. Uses 2 stack slots. */
static void decode_string(decoder *d) {
    const char *open = d->p, *start = d->p + 1, *q = start;
    while (q < d->end) {
        unsigned char c = (unsigned char)*q;
        if (c == '"' || c == '\\' || c < 0x20 || c >= 0x80) break;
        q++;
    }
    if (q < d->end && *q == '"') { /* fast path: nothing to unescape or validate */
        lua_pushlstring(d->L, start, (size_t)(q - start));
        d->p = q + 1;
        return;
    }
    /* The closing quote bounds the decoded length: escapes only shrink. */
    const char *close = q;
    while (close < d->end && *close != '"') close += *close == '\\' && d->end - close > 1 ? 2 : 1;
    if (close >= d->end) {
        d->p = open;
        decode_fail(d, "unterminated string");
    }
    luaL_Buffer b;
    char *out = luaL_buffinitsize(d->L, &b, (size_t)(close - start));
    size_t n = (size_t)(q - start);
    memcpy(out, start, n);
    const unsigned char *p = (const unsigned char *)q, *stop = (const unsigned char *)close;
    while (p < stop) {
        unsigned c = *p;
        if (c == '\\') {
            d->p = (const char *)p;
            switch (p[1]) {
            case '"': out[n++] = '"'; break;
            case '\\': out[n++] = '\\'; break;
            case '/': out[n++] = '/'; break;
            case 'b': out[n++] = '\b'; break;
            case 'f': out[n++] = '\f'; break;
            case 'n': out[n++] = '\n'; break;
            case 'r': out[n++] = '\r'; break;
            case 't': out[n++] = '\t'; break;
            case 'u': {
                uint32_t cp, lo;
                if (stop - p < 6 || !hex4(p + 2, &cp)) decode_fail(d, "invalid \\u escape");
                if (cp >= 0xDC00 && cp <= 0xDFFF) decode_fail(d, "lone low surrogate in a \\u escape");
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    if (stop - p < 12 || p[6] != '\\' || p[7] != 'u' || !hex4(p + 8, &lo) || lo < 0xDC00 || lo > 0xDFFF)
                        decode_fail(d, "lone high surrogate in a \\u escape");
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    p += 6;
                }
                n += utf8_put(out + n, cp);
                p += 6;
                continue;
            }
            default: decode_fail(d, "invalid escape in a string");
            }
            p += 2;
        } else if (c < 0x20) {
            d->p = (const char *)p;
            decode_fail(d, "control character in a string (escape it)");
        } else if (c < 0x80) {
            out[n++] = (char)c;
            p++;
        } else {
            size_t k = utf8_len(p, stop);
            if (k == 0) {
                d->p = (const char *)p;
                decode_fail(d, "invalid UTF-8 in a string");
            }
            memcpy(out + n, p, k);
            n += k;
            p += k;
        }
    }
    luaL_pushresultsize(&b, n);
    d->p = close + 1;
}

static int is_digit(const char *p, const char *end) { return p < end && *p >= '0' && *p <= '9'; }

/* Pushes the number at d->p: an integer when it has no fraction or exponent
 * and fits in 64 bits, else a float. Uses 1 stack slot. */
static void decode_number(decoder *d) {
    const char *start = d->p, *p = d->p, *end = d->end;
    int neg = *p == '-', is_float = 0;
    if (neg) p++;
    if (!is_digit(p, end)) {
        d->p = p;
        unexpected(d, "a digit");
    }
    if (*p == '0') {
        p++;
        if (is_digit(p, end)) {
            d->p = p;
            decode_fail(d, "leading zeros are not allowed");
        }
    } else {
        while (is_digit(p, end)) p++;
    }
    const char *int_end = p;
    if (p < end && *p == '.') {
        p++;
        if (!is_digit(p, end)) {
            d->p = p;
            unexpected(d, "a digit after '.'");
        }
        while (is_digit(p, end)) p++;
        is_float = 1;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-')) p++;
        if (!is_digit(p, end)) {
            d->p = p;
            unexpected(d, "a digit in the exponent");
        }
        while (is_digit(p, end)) p++;
        is_float = 1;
    }
    if (!is_float) {
        uint64_t v = 0;
        int fits = 1;
        for (const char *q = start + neg; q < int_end && fits; q++) {
            unsigned digit = (unsigned)(*q - '0');
            if (v > (UINT64_MAX - digit) / 10)
                fits = 0;
            else
                v = v * 10 + digit;
        }
        if (fits && v <= (uint64_t)INT64_MAX + (uint64_t)neg) {
            lua_pushinteger(d->L, neg ? (lua_Integer)(0 - v) : (lua_Integer)v);
            d->p = p;
            return;
        }
    }
    /* Fast path: at most 15 significant digits and a small power of ten are
     * both exact doubles, and one correctly rounded multiply or divide gives
     * the correctly rounded result (Clinger). */
    if (is_float) {
        uint64_t m = 0;
        int digits = 0, scale = 0, exp = 0, exp_neg = 0;
        const char *q = start + neg;
        for (; q < p && digits <= 15; q++) {
            if (*q == '.') continue;
            if (*q == 'e' || *q == 'E') break;
            if (m == 0 && *q == '0') { /* leading zeros are not significant */
                if (q > int_end) scale--;
                continue;
            }
            m = m * 10 + (uint64_t)(*q - '0');
            digits++;
            if (q > int_end) scale--;
        }
        if (q < p && (*q == 'e' || *q == 'E')) {
            q++;
            exp_neg = *q == '-';
            if (*q == '+' || *q == '-') q++;
            for (; q < p && exp < 1000; q++) exp = exp * 10 + (*q - '0');
            if (q == p) scale += exp_neg ? -exp : exp;
        }
        if (q == p && digits <= 15 && scale >= -22 && scale <= 22) {
            double x = (double)m;
            x = scale < 0 ? x / pow10_exact[-scale] : x * pow10_exact[scale];
            lua_pushnumber(d->L, neg ? -x : x);
            d->p = p;
            return;
        }
    }
    /* strtod needs a terminated copy. */
    size_t len = (size_t)(p - start);
    char local[64];
    double x;
    if (len < sizeof local) {
        memcpy(local, start, len);
        local[len] = '\0';
        x = strtod(local, NULL);
    } else {
        lua_pushlstring(d->L, start, len);
        x = strtod(lua_tostring(d->L, -1), NULL);
        lua_pop(d->L, 1);
    }
    if (!isfinite(x)) {
        d->p = start;
        decode_fail(d, "number out of range");
    }
    lua_pushnumber(d->L, x);
    d->p = p;
}

static void decode_literal(decoder *d, const char *word, size_t n) {
    if ((size_t)(d->end - d->p) < n || memcmp(d->p, word, n) != 0) unexpected(d, "a value");
    d->p += n;
}

/* An object key and its colon; pushes the key. */
static void decode_key(decoder *d) {
    skip_ws(d);
    if (d->p >= d->end || *d->p != '"') unexpected(d, "a string key");
    decode_string(d);
    skip_ws(d);
    if (d->p >= d->end || *d->p != ':') unexpected(d, "':'");
    d->p++;
}

static int json_decode(lua_State *L) {
    enum { TEXT = 1, FRAMES, ARRAY_MT };
    size_t len;
    const char *s = luaL_checklstring(L, TEXT, &len);
    lua_settop(L, TEXT);
    lua_pushnil(L);                                    /* FRAMES */
    lua_rawgetp(L, LUA_REGISTRYINDEX, &array_mt_key); /* ARRAY_MT */
    frames fs;
    frames_init(&fs, FRAMES);
    decoder d = {L, s, s, s + len};
    /* Loop invariant: the open containers are on the stack (each a table,
     * plus its pending key for objects); the next thing in the input is a
     * value. */
    for (;;) {
        skip_ws(&d);
        if (d.p >= d.end) unexpected(&d, "a value");
        switch (*d.p) {
        case '{':
        case '[': {
            int is_array = *d.p == '[';
            if (fs.depth == MAX_DEPTH) decode_fail(&d, "nested too deep (more than 1000 levels)");
            luaL_checkstack(L, 6, "bext.json.decode: nested too deep");
            d.p++;
            /* Room for a few members saves the first rehashes of small
             * objects and pairs, the common case in request contexts
             * (measured: a 337-byte context decodes in 16% less fuel). */
            lua_createtable(L, is_array ? 2 : 0, is_array ? 0 : 4);
            if (is_array) {
                lua_pushvalue(L, ARRAY_MT);
                lua_setmetatable(L, -2);
            }
            frame *f = frames_push(L, &fs);
            f->kind = is_array ? FRAME_ARRAY : FRAME_OBJECT;
            f->i = 0;
            skip_ws(&d);
            if (d.p < d.end && *d.p == (is_array ? ']' : '}')) { /* empty: a complete value */
                d.p++;
                fs.depth--;
                break;
            }
            if (!is_array) decode_key(&d);
            continue;
        }
        case '"': decode_string(&d); break;
        case 't':
            decode_literal(&d, "true", 4);
            lua_pushboolean(L, 1);
            break;
        case 'f':
            decode_literal(&d, "false", 5);
            lua_pushboolean(L, 0);
            break;
        case 'n':
            decode_literal(&d, "null", 4);
            lua_pushlightuserdata(L, JSON_NULL);
            break;
        default:
            if (*d.p == '-' || (*d.p >= '0' && *d.p <= '9'))
                decode_number(&d);
            else
                unexpected(&d, "a value");
        }
        /* A complete value is on top: store it, closing containers it completes. */
        for (;;) {
            if (fs.depth == 0) {
                skip_ws(&d);
                if (d.p != d.end) decode_fail(&d, "unexpected data after the JSON value");
                return 1;
            }
            frame *f = &fs.f[fs.depth - 1];
            if (f->kind == FRAME_ARRAY)
                lua_rawseti(L, -2, ++f->i);
            else
                lua_rawset(L, -3);
            skip_ws(&d);
            char close = f->kind == FRAME_ARRAY ? ']' : '}';
            if (d.p < d.end && *d.p == ',') {
                d.p++;
                if (f->kind == FRAME_OBJECT) decode_key(&d);
                break;
            }
            if (d.p < d.end && *d.p == close) {
                d.p++;
                fs.depth--;
                continue;
            }
            unexpected(&d, f->kind == FRAME_ARRAY ? "',' or ']'" : "',' or '}'");
        }
    }
}

/* bext.json.array([t]): marks t (default: a new table) as a JSON array. */
static int json_array(lua_State *L) {
    if (lua_isnoneornil(L, 1)) {
        lua_settop(L, 0);
        lua_newtable(L);
    } else {
        luaL_checktype(L, 1, LUA_TTABLE);
        lua_settop(L, 1);
    }
    lua_rawgetp(L, LUA_REGISTRYINDEX, &array_mt_key);
    if (lua_getmetatable(L, 1)) {
        if (!lua_rawequal(L, -1, -2)) return luaL_error(L, "bext.json.array: the table already has a metatable");
        lua_pop(L, 1);
    }
    lua_setmetatable(L, 1);
    return 1;
}

void bext_json_push_module(lua_State *L) {
    lua_createtable(L, 0, 1);
    lua_pushliteral(L, "bext.json.array");
    lua_setfield(L, -2, "__name");
    lua_rawsetp(L, LUA_REGISTRYINDEX, &array_mt_key);

    lua_createtable(L, 0, 4);
    lua_pushcfunction(L, bext_json_encode);
    lua_setfield(L, -2, "encode");
    lua_pushcfunction(L, json_decode);
    lua_setfield(L, -2, "decode");
    lua_pushcfunction(L, json_array);
    lua_setfield(L, -2, "array");
    lua_pushlightuserdata(L, JSON_NULL);
    lua_setfield(L, -2, "null");
}
