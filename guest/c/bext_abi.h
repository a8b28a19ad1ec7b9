/* Generated from host/src/guest/abi.rs (`abi_constants!`): do not edit.
 * The constants the shim and the host agree on; the host's test
 * `guest::abi::tests::the_c_header_is_generated_from_the_constants` fails
 * when this file differs from what the Rust side generates, and prints it. */
#ifndef BEXT_ABI_H
#define BEXT_ABI_H

#define BEXT_ABI_VERSION 2
#define BEXT_OUTPUT_SLOT_BYTES 32

/* What a guest entry point returns. */
enum {
    ST_OK = 0,
    /* Uncaught Lua error; output = message and traceback. */
    ST_RUNTIME = 1,
    /* The script does not compile; output = message. */
    ST_SYNTAX = 2,
    /* `LUA_ERRMEM` reached the top. */
    ST_MEMORY = 3,
    /* The script evaluated to a non-table; output = its type. */
    ST_NOT_TABLE = 4,
    /* The method is absent; output = its name. */
    ST_NO_METHOD = 5,
    /* The guest was not initialised or no plugin is loaded. */
    ST_NOT_READY = 6,
    /* The argument encoding was rejected. */
    ST_BAD_INPUT = 7,
    /* Uncaught Lua error with an error code; output = code, newline, */
    /* message and traceback. */
    ST_RUNTIME_CODE = 8,
};

/* The `kind` field of the output slot. */
enum {
    OUT_NIL = 0,
    OUT_BOOL = 1,
    OUT_INT = 2,
    OUT_FLOAT = 3,
    OUT_STRING = 4,
    /* Another Lua type; the bytes are its type name. */
    OUT_OTHER = 5,
    /* A returned table, encoded as JSON by the shim. */
    OUT_JSON = 6,
    /* A returned table that `bext.json.encode` rejected; the message. */
    OUT_JSON_ERROR = 7,
};

/* The `op` argument of the `bext.shared` import. */
enum {
    SHARED_GET = 1,
    SHARED_SET = 2,
    SHARED_ADD = 3,
    SHARED_REPLACE = 4,
    SHARED_INCR = 5,
    SHARED_DELETE = 6,
    SHARED_TTL = 7,
    SHARED_EXPIRE = 8,
    SHARED_KEYS = 9,
    SHARED_FLUSH_EXPIRED = 10,
    SHARED_FLUSH_ALL = 11,
};

/* The `level` argument of the `bext.log` import. */
enum {
    LOG_ERROR = 0,
    LOG_WARN = 1,
    LOG_INFO = 2,
    LOG_DEBUG = 3,
};

/* The `kind` argument of the `bext.event` import. */
enum {
    EVENT_CACHE = 1,
    EVENT_LIFECYCLE = 2,
};

#endif
