/* The full profile: a `lua`-like interpreter entry for the `bext-lua run`
 * tool. Plugins never reach this code: the runtime API only drives the
 * sandbox entries of shim.c; this file's export is called by the host's
 * `runner` module alone, in an instance whose WASI context grants the current
 * folder, a private temporary folder, the environment and stdio.
 *
 * ABI (see host/src/runner.rs):
 *
 *   i32  bext_full_main(i32 script_index)
 *        The WASI arguments are a `lua` command line the host has already
 *        validated: argv[0] the program name, then "-e" CHUNK pairs, then
 *        (at `script_index`, 0 when absent) the script ("-" = stdin) and its
 *        arguments. Returns the exit status (0 or 1); `os.exit` ends the
 *        instance through WASI proc_exit instead.
 *
 * Everything here uses the public Lua C API. The standard libraries all come
 * from stock Lua; we replace the three functions that lua-src's WASI build
 * turns into "not supported" (os.clock, os.tmpname and io.tmpfile), and
 * os.setlocale, whose C library accepts any locale name.
 *
 * Below Lua, a few C library entry points are wrapped (`--wrap` in
 * guest/build.rs) so that files behave as on Linux where WASI differs; see
 * "POSIX file semantics".
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include <wasi/api.h>

#include "lauxlib.h"
#include "lua.h"
#include "lualib.h"
#include "msgh.h"

#define EXPORT(name) __attribute__((export_name(#name))) name

/* The host preopens the private temporary folder under this guest path. */
#define FULL_TMP_DIR "/tmp"

static struct timespec full_started; /* os.clock counts from here */
static const char *progname = "bext-lua";

/* ---- os.clock, os.tmpname, io.tmpfile ---- */

/* os.clock: WASI has no process CPU-time clock (wasmtime answers EBADF), so
 * this is the monotonic time since the interpreter started, in seconds. */
static int full_clock(lua_State *L) {
    struct timespec now;
    if (clock_gettime(CLOCK_MONOTONIC, &now) != 0) return luaL_error(L, "os.clock: no monotonic clock");
    lua_pushnumber(L, (lua_Number)(now.tv_sec - full_started.tv_sec) +
                          (lua_Number)(now.tv_nsec - full_started.tv_nsec) / 1e9);
    return 1;
}

/* Creates a new, empty file with a unique name in the private temporary
 * folder; writes its name (at most `cap` bytes) into `name`. Returns an open
 * descriptor, or -1 with errno set. */
static int make_unique_file(char *name, size_t cap) {
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    for (int attempt = 0; attempt < 100; attempt++) {
        unsigned char rnd[10];
        if (getentropy(rnd, sizeof rnd) != 0) return -1;
        char suffix[sizeof rnd + 1];
        for (size_t i = 0; i < sizeof rnd; i++) suffix[i] = alphabet[rnd[i] % (sizeof alphabet - 1)];
        suffix[sizeof rnd] = '\0';
        if ((size_t)snprintf(name, cap, "%s/lua_%s", FULL_TMP_DIR, suffix) >= cap) {
            errno = ENAMETOOLONG;
            return -1;
        }
        int fd = open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
        if (fd >= 0 || errno != EEXIST) return fd;
    }
    errno = EEXIST;
    return -1;
}

/* os.tmpname: like POSIX Lua's (mkstemp), the file is created empty so the
 * name stays unique; the caller removes it. */
static int full_tmpname(lua_State *L) {
    char name[64];
    int fd = make_unique_file(name, sizeof name);
    if (fd < 0) return luaL_error(L, "unable to generate a unique filename");
    close(fd);
    lua_pushstring(L, name);
    return 1;
}

/* __close/close of a file made by io.tmpfile (liolib's own closer is static). */
static int full_tmpfile_close(lua_State *L) {
    luaL_Stream *p = (luaL_Stream *)luaL_checkudata(L, 1, LUA_FILEHANDLE);
    errno = 0;
    return luaL_fileresult(L, fclose(p->f) == 0, NULL);
}

/* io.tmpfile: a file opened "w+b" that disappears when closed: it is
 * unlinked right after opening, as tmpfile(3) does on POSIX. */
static int full_tmpfile(lua_State *L) {
    luaL_Stream *p = (luaL_Stream *)lua_newuserdatauv(L, sizeof(luaL_Stream), 0);
    p->f = NULL;
    p->closef = NULL; /* marks the handle closed until it is open */
    luaL_setmetatable(L, LUA_FILEHANDLE);
    char name[64];
    errno = 0;
    int fd = make_unique_file(name, sizeof name);
    FILE *f = fd < 0 ? NULL : fdopen(fd, "w+b");
    if (f == NULL) {
        int saved = errno;
        if (fd >= 0) close(fd), remove(name);
        errno = saved;
        return luaL_fileresult(L, 0, NULL);
    }
    remove(name);
    p->f = f;
    p->closef = full_tmpfile_close;
    return 1;
}

/* ---- os.setlocale ---- */

/* wasi-libc accepts any locale name and has no locale data (it behaves as
 * C whatever the name), and its names for mixed locales are its own. The
 * full profile answers as Linux (glibc) does on a system without extra
 * locales: the C locale exists under its names, every other name fails,
 * and the names read back are glibc's, kept here per category (static
 * strings: the names of the available locales). The C library itself stays
 * in its C locale, which is what every available locale means here. */
static const char *available_locale(const char *name) {
    static const char *const names[] = {"C", "C.UTF-8", "C.utf8"};
    if (strcmp(name, "POSIX") == 0) return "C"; /* glibc's name for it */
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(name, names[i]) == 0) return names[i];
    return NULL;
}

/* glibc's categories (their environment variables), in the order of its
 * composite LC_ALL name. */
#define LOCALE_CATEGORIES 12
static const char *const glibc_category_vars[LOCALE_CATEGORIES] = {
    "LC_CTYPE", "LC_NUMERIC", "LC_TIME",      "LC_COLLATE",     "LC_MONETARY",       "LC_MESSAGES",
    "LC_PAPER", "LC_NAME",    "LC_ADDRESS",   "LC_TELEPHONE",   "LC_MEASUREMENT",    "LC_IDENTIFICATION"};
static const char *locale_names[LOCALE_CATEGORIES] = {"C", "C", "C", "C", "C", "C", "C", "C", "C", "C", "C", "C"};

/* os.setlocale's category option -> index in glibc_category_vars, -1 = all. */
static const char *const lua_category_options[] = {"all", "collate", "ctype", "monetary", "numeric", "time", NULL};
static const int lua_category_index[] = {-1, 3, 0, 4, 1, 2};

/* The locale "" stands for in a category, from the environment as POSIX
 * says: LC_ALL, then the category's own variable, then LANG, else "C". */
static const char *environment_locale(int index) {
    const char *vars[] = {"LC_ALL", glibc_category_vars[index], "LANG"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *value = getenv(vars[i]);
        if (value != NULL && value[0] != '\0') return value;
    }
    return "C";
}

/* Pushes the current name of category `index` (-1: glibc's LC_ALL name,
 * one name when every category agrees, else "LC_CTYPE=...;LC_NUMERIC=..."). */
static void push_locale_name(lua_State *L, int index) {
    if (index >= 0) {
        lua_pushstring(L, locale_names[index]);
        return;
    }
    int same = 1;
    for (int i = 1; i < LOCALE_CATEGORIES; i++) same = same && strcmp(locale_names[i], locale_names[0]) == 0;
    if (same) {
        lua_pushstring(L, locale_names[0]);
        return;
    }
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (int i = 0; i < LOCALE_CATEGORIES; i++) {
        if (i > 0) luaL_addchar(&b, ';');
        luaL_addstring(&b, glibc_category_vars[i]);
        luaL_addchar(&b, '=');
        luaL_addstring(&b, locale_names[i]);
    }
    luaL_pushresult(&b);
}

/* os.setlocale([locale [, category]]): as stock Lua on Linux. A locale that
 * is not available (by name, or through "" and the environment) fails with
 * nil and changes nothing; otherwise every category it covers takes it. */
static int full_setlocale(lua_State *L) {
    const char *name = luaL_optstring(L, 1, NULL);
    int index = lua_category_index[luaL_checkoption(L, 2, "all", lua_category_options)];
    if (name != NULL) {
        int first = index < 0 ? 0 : index, last = index < 0 ? LOCALE_CATEGORIES - 1 : index;
        const char *chosen[LOCALE_CATEGORIES];
        for (int i = first; i <= last; i++) {
            chosen[i] = available_locale(name[0] == '\0' ? environment_locale(i) : name);
            if (chosen[i] == NULL) {
                lua_pushnil(L);
                return 1;
            }
        }
        for (int i = first; i <= last; i++) locale_names[i] = chosen[i];
    }
    push_locale_name(L, index);
    return 1;
}

/* ---- POSIX file semantics ----
 *
 * wasi-libc resolves the empty path to the current folder (so fopen("")
 * opened the preopened folder and package.searchpath found a file named
 * ""), and wasmtime answers a read from a directory with EBADF. Linux says
 * ENOENT and EISDIR. These wrappers restore that for every path the full
 * profile opens: io.open/lines/input/output, loadfile, dofile, require and
 * package.searchpath (fopen/freopen -> __wasilibc_open_nomode), os.remove
 * and os.rename. luaL_fileresult is wrapped too, for the errno numbers. */

int __real___wasilibc_open_nomode(const char *path, int oflag);
int __real_remove(const char *path);
int __real_rename(const char *old_path, const char *new_path);
ssize_t __real_read(int fd, void *buf, size_t count);
ssize_t __real_readv(int fd, const struct iovec *iov, int iovcnt);

int __wrap___wasilibc_open_nomode(const char *path, int oflag) {
    if (path[0] == '\0') return errno = ENOENT, -1;
    return __real___wasilibc_open_nomode(path, oflag);
}

int __wrap_remove(const char *path) {
    if (path[0] == '\0') return errno = ENOENT, -1;
    return __real_remove(path);
}

int __wrap_rename(const char *old_path, const char *new_path) {
    if (old_path[0] == '\0' || new_path[0] == '\0') return errno = ENOENT, -1;
    return __real_rename(old_path, new_path);
}

/* After a failed read: EBADF on a directory is Linux's EISDIR. */
static void directory_read_errno(int fd) {
    struct stat st;
    int saved = errno;
    if (saved == EBADF && fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) saved = EISDIR;
    errno = saved;
}

ssize_t __wrap_read(int fd, void *buf, size_t count) {
    ssize_t n = __real_read(fd, buf, count);
    if (n < 0) directory_read_errno(fd);
    return n;
}

ssize_t __wrap_readv(int fd, const struct iovec *iov, int iovcnt) {
    ssize_t n = __real_readv(fd, iov, iovcnt);
    if (n < 0) directory_read_errno(fd);
    return n;
}

/* errno numbers as Linux numbers them: io.open, io.read, os.remove and the
 * other file functions return the number as their third result
 * (luaL_fileresult), and WASI's are others (ENOENT is 44, not 2). Every
 * name the guest's C library defines, with its Linux number (x86-64 and
 * asm-generic agree); ENOTCAPABLE has none and stays as it is. */
static const struct {
    int wasi, linux;
} linux_errnos[] = {
    {E2BIG, 7}, {EACCES, 13}, {EADDRINUSE, 98}, {EADDRNOTAVAIL, 99}, {EAFNOSUPPORT, 97}, {EAGAIN, 11},
    {EALREADY, 114}, {EBADF, 9}, {EBADMSG, 74}, {EBUSY, 16}, {ECANCELED, 125}, {ECHILD, 10},
    {ECONNABORTED, 103}, {ECONNREFUSED, 111}, {ECONNRESET, 104}, {EDEADLK, 35}, {EDESTADDRREQ, 89},
    {EDOM, 33}, {EDQUOT, 122}, {EEXIST, 17}, {EFAULT, 14}, {EFBIG, 27}, {EHOSTUNREACH, 113}, {EIDRM, 43},
    {EILSEQ, 84}, {EINPROGRESS, 115}, {EINTR, 4}, {EINVAL, 22}, {EIO, 5}, {EISCONN, 106}, {EISDIR, 21},
    {ELOOP, 40}, {EMFILE, 24}, {EMLINK, 31}, {EMSGSIZE, 90}, {EMULTIHOP, 72}, {ENAMETOOLONG, 36},
    {ENETDOWN, 100}, {ENETRESET, 102}, {ENETUNREACH, 101}, {ENFILE, 23}, {ENOBUFS, 105}, {ENODEV, 19},
    {ENOENT, 2}, {ENOEXEC, 8}, {ENOLCK, 37}, {ENOLINK, 67}, {ENOMEM, 12}, {ENOMSG, 42}, {ENOPROTOOPT, 92},
    {ENOSPC, 28}, {ENOSYS, 38}, {ENOTCONN, 107}, {ENOTDIR, 20}, {ENOTEMPTY, 39}, {ENOTRECOVERABLE, 131},
    {ENOTSOCK, 88}, {ENOTSUP, 95}, {ENOTTY, 25}, {ENXIO, 6}, {EOVERFLOW, 75}, {EOWNERDEAD, 130}, {EPERM, 1},
    {EPIPE, 32}, {EPROTO, 71}, {EPROTONOSUPPORT, 93}, {EPROTOTYPE, 91}, {ERANGE, 34}, {EROFS, 30},
    {ESPIPE, 29}, {ESRCH, 3}, {ESTALE, 116}, {ETIMEDOUT, 110}, {ETXTBSY, 26}, {EXDEV, 18},
};

static int linux_errno(int wasi) {
    for (size_t i = 0; i < sizeof linux_errnos / sizeof linux_errnos[0]; i++)
        if (linux_errnos[i].wasi == wasi) return linux_errnos[i].linux;
    return wasi;
}

int __real_luaL_fileresult(lua_State *L, int stat, const char *fname);

int __wrap_luaL_fileresult(lua_State *L, int stat, const char *fname) {
    int en = errno; /* what the real one reads first */
    int results = __real_luaL_fileresult(L, stat, fname);
    if (!stat) {
        lua_pushinteger(L, linux_errno(en));
        lua_replace(L, -2);
    }
    return results;
}

static void replace_field(lua_State *L, const char *lib, const char *name, lua_CFunction f) {
    lua_getglobal(L, lib);
    lua_pushcfunction(L, f);
    lua_setfield(L, -2, name);
    lua_pop(L, 1);
}

/* ---- the interpreter ---- */

/* Prints the error at the top of the stack as "progname: message". */
static int report(lua_State *L, int status) {
    if (status != LUA_OK) {
        const char *msg = lua_tostring(L, -1);
        if (msg == NULL) msg = "(error object is not a string)";
        fprintf(stderr, "%s: %s\n", progname, msg);
        fflush(stderr);
        lua_pop(L, 1);
    }
    return status;
}

/* Calls the function below `nargs` arguments with the message handler. */
static int docall(lua_State *L, int nargs) {
    int base = lua_gettop(L) - nargs;
    lua_pushcfunction(L, bext_msgh);
    lua_insert(L, base);
    int status = lua_pcall(L, nargs, 0, base);
    lua_remove(L, base);
    return status;
}

static int dochunk(lua_State *L, int status) {
    if (status == LUA_OK) status = docall(L, 0);
    return report(L, status);
}

struct argv_list {
    int argc;
    char **argv;
};

/* Reads the WASI arguments; on failure argc is 0. */
static struct argv_list read_args(void) {
    struct argv_list args = {0, NULL};
    __wasi_size_t argc = 0, buf_size = 0;
    if (__wasi_args_sizes_get(&argc, &buf_size) != 0 || argc == 0) return args;
    char **argv = calloc(argc + 1, sizeof(char *));
    char *buf = malloc(buf_size ? buf_size : 1);
    if (!argv || !buf || __wasi_args_get((uint8_t **)argv, (uint8_t *)buf) != 0) {
        free(argv);
        free(buf);
        return args;
    }
    args.argc = (int)argc;
    args.argv = argv;
    return args;
}

/* The global `arg`: the script at index 0, its arguments at 1.., the program
 * name and options at negative indices (like the standalone interpreter). */
static void create_arg_table(lua_State *L, struct argv_list args, int script) {
    int narg = args.argc - (script + 1);
    lua_createtable(L, narg > 0 ? narg : 0, script + 1);
    for (int i = 0; i < args.argc; i++) {
        lua_pushstring(L, args.argv[i]);
        lua_rawseti(L, -2, i - script);
    }
    lua_setglobal(L, "arg");
}

/* LUA_INIT_5_4 or LUA_INIT: a chunk, or @file to run first. */
static int handle_init(lua_State *L) {
    const char *name = "=LUA_INIT_5_4";
    const char *init = getenv("LUA_INIT_5_4");
    if (init == NULL) {
        name = "=LUA_INIT";
        init = getenv("LUA_INIT");
    }
    if (init == NULL) return LUA_OK;
    if (init[0] == '@') return dochunk(L, luaL_loadfile(L, init + 1));
    return dochunk(L, luaL_loadbuffer(L, init, strlen(init), name));
}

struct main_args {
    struct argv_list args;
    int script;
    int status;
};

static int full_main_entry(lua_State *L) {
    struct main_args *m = (struct main_args *)lua_touserdata(L, 1);
    lua_settop(L, 0);
    luaL_checkversion(L);
    luaL_openlibs(L);
    replace_field(L, LUA_OSLIBNAME, "clock", full_clock);
    replace_field(L, LUA_OSLIBNAME, "tmpname", full_tmpname);
    replace_field(L, LUA_IOLIBNAME, "tmpfile", full_tmpfile);
    replace_field(L, LUA_OSLIBNAME, "setlocale", full_setlocale);
    /* Lua modules from the current folder (unless LUA_PATH says otherwise);
     * there is no dynamic loader, so no C modules. */
    lua_getglobal(L, LUA_LOADLIBNAME);
    if (getenv("LUA_PATH_5_4") == NULL && getenv("LUA_PATH") == NULL) {
        lua_pushliteral(L, "./?.lua;./?/init.lua");
        lua_setfield(L, -2, "path");
    }
    lua_pushliteral(L, "");
    lua_setfield(L, -2, "cpath");
    lua_pop(L, 1);
    create_arg_table(L, m->args, m->script);
    lua_gc(L, LUA_GCRESTART);
    lua_gc(L, LUA_GCGEN, 0, 0); /* the standalone interpreter's GC mode */
    if (handle_init(L) != LUA_OK) return 0;
    int last = m->script > 0 ? m->script : m->args.argc; /* the options end here */
    for (int i = 1; i < last; i++) {
        if (strcmp(m->args.argv[i], "-e") != 0 || i + 1 >= last) continue;
        const char *chunk = m->args.argv[++i];
        if (dochunk(L, luaL_loadbuffer(L, chunk, strlen(chunk), "=(command line)")) != LUA_OK) return 0;
    }
    if (m->script > 0) {
        const char *fname = m->args.argv[m->script];
        if (strcmp(fname, "-") == 0) fname = NULL; /* standard input */
        int status = luaL_loadfile(L, fname);
        int n = 0;
        if (status == LUA_OK) {
            n = m->args.argc - m->script - 1;
            luaL_checkstack(L, n + 3, "too many arguments to script");
            for (int i = 1; i <= n; i++) lua_pushstring(L, m->args.argv[m->script + i]);
            status = docall(L, n);
        }
        if (report(L, status) != LUA_OK) return 0;
    }
    m->status = 0;
    return 0;
}

int32_t EXPORT(bext_full_main)(int32_t script_index) {
    clock_gettime(CLOCK_MONOTONIC, &full_started);
    struct main_args m = {read_args(), script_index, 1};
    if (m.args.argc > 0) progname = m.args.argv[0];
    if (m.script < 0 || m.script >= m.args.argc) m.script = 0;
    lua_State *L = luaL_newstate();
    if (L == NULL) {
        fprintf(stderr, "%s: cannot create state: not enough memory\n", progname);
        return 1;
    }
    lua_pushcfunction(L, full_main_entry);
    lua_pushlightuserdata(L, &m);
    int status = lua_pcall(L, 1, 0, 0);
    report(L, status);
    lua_close(L);
    fflush(stdout);
    fflush(stderr);
    return status == LUA_OK ? m.status : 1;
}
