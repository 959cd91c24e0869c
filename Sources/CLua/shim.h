// Umbrella header for the system Lua 5.1 (Debian's liblua5.1-0-dev), used by scripting.
// Lua's API has function-like macros Swift cannot call; they get static inline wrappers here.
// Lua raises errors with longjmp, which must never cross Swift frames: Swift functions
// exposed to Lua run behind `swiftlet_lua_trampoline`, return SWIFTLET_LUA_RAISE to have
// the error object on top of the stack raised, and only C frames are skipped by the jump.
// The sandbox pieces that raise errors themselves (read-only tables, the error handler that
// records where a script failed, the count hook that stops a killed script) are C for the
// same reason.
#ifndef SWIFTLET_CLUA_SHIM_H
#define SWIFTLET_CLUA_SHIM_H
#include <lua5.1/lua.h>
#include <lua5.1/lualib.h>
#include <lua5.1/lauxlib.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define SWIFTLET_LUA_RAISE (-1)

static inline void swiftlet_lua_pop(lua_State *L, int n) { lua_pop(L, n); }
static inline void swiftlet_lua_newtable(lua_State *L) { lua_newtable(L); }
static inline const char *swiftlet_lua_tostring(lua_State *L, int i) { return lua_tostring(L, i); }
static inline int swiftlet_lua_isnil(lua_State *L, int i) { return lua_isnil(L, i); }
static inline int swiftlet_lua_istable(lua_State *L, int i) { return lua_istable(L, i); }
static inline int swiftlet_lua_upvalueindex(int i) { return lua_upvalueindex(i); }
static inline void swiftlet_lua_setglobal(lua_State *L, const char *name) { lua_setglobal(L, name); }
static inline void swiftlet_lua_getglobal(lua_State *L, const char *name) { lua_getglobal(L, name); }
static inline void swiftlet_lua_pushcfunction(lua_State *L, lua_CFunction f) { lua_pushcfunction(L, f); }
static inline void swiftlet_lua_getregistry(lua_State *L, const char *name) { lua_getfield(L, LUA_REGISTRYINDEX, name); }
static inline void swiftlet_lua_setregistry(lua_State *L, const char *name) { lua_setfield(L, LUA_REGISTRYINDEX, name); }
static inline int swiftlet_lua_registryindex(void) { return LUA_REGISTRYINDEX; }
static inline int swiftlet_lua_globalsindex(void) { return LUA_GLOBALSINDEX; }

/// Formats a number argument of redis.call as Redis does (%.17g); returns its length.
static inline int swiftlet_lua_format_number(char *buffer, int size, double value) {
    return snprintf(buffer, size, "%.17g", value);
}

/// A Swift function callable from Lua: returns its result count, or SWIFTLET_LUA_RAISE.
typedef int (*swiftlet_lua_swift_fn)(lua_State *L);

static int swiftlet_lua_trampoline(lua_State *L) {
    swiftlet_lua_swift_fn fn = (swiftlet_lua_swift_fn)lua_touserdata(L, lua_upvalueindex(1));
    int results = fn(L);
    if (results == SWIFTLET_LUA_RAISE) return lua_error(L);
    return results;
}

/// Pushes `fn` as a Lua function.
static inline void swiftlet_lua_pushswift(lua_State *L, swiftlet_lua_swift_fn fn) {
    lua_pushlightuserdata(L, (void *)fn);
    lua_pushcclosure(L, swiftlet_lua_trampoline, 1);
}

/// Raises the error table {err="ERR <message>"} at the calling script's position-less level.
static inline int swiftlet_lua_raise_plain(lua_State *L, const char *message) {
    lua_newtable(L);
    lua_pushstring(L, "err");
    lua_pushfstring(L, "ERR %s", message);
    lua_rawset(L, -3);
    return lua_error(L);
}

// MARK: math.random
//
// Lua's own argument checks with Redis's generator underneath: the Swift side gives the next
// value in [0, 1) (negative outside a script invocation) and takes seeds.

typedef double (*swiftlet_lua_random_fn)(void);
typedef int (*swiftlet_lua_seed_fn)(int seed);

static int swiftlet_lua_random(lua_State *L) {
    swiftlet_lua_random_fn next = (swiftlet_lua_random_fn)lua_touserdata(L, lua_upvalueindex(1));
    double r = next();
    if (r < 0) return luaL_error(L, "math.random can only be called inside a script invocation");
    switch (lua_gettop(L)) {
    case 0:
        lua_pushnumber(L, r);
        break;
    case 1: {
        int u = luaL_checkint(L, 1);
        luaL_argcheck(L, 1 <= u, 1, "interval is empty");
        lua_pushnumber(L, floor(r * u) + 1);
        break;
    }
    case 2: {
        int l = luaL_checkint(L, 1);
        int u = luaL_checkint(L, 2);
        luaL_argcheck(L, l <= u, 2, "interval is empty");
        lua_pushnumber(L, floor(r * (u - l + 1)) + l);
        break;
    }
    default:
        return luaL_error(L, "wrong number of arguments");
    }
    return 1;
}

static int swiftlet_lua_randomseed(lua_State *L) {
    swiftlet_lua_seed_fn seed = (swiftlet_lua_seed_fn)lua_touserdata(L, lua_upvalueindex(1));
    int value = luaL_checkint(L, 1);
    if (!seed(value)) return luaL_error(L, "math.randomseed can only be called inside a script invocation");
    return 0;
}

/// Replaces math.random and math.randomseed (the math table is on top of the stack).
static inline void swiftlet_lua_register_random(lua_State *L, swiftlet_lua_random_fn next, swiftlet_lua_seed_fn seed) {
    lua_pushlightuserdata(L, (void *)next);
    lua_pushcclosure(L, swiftlet_lua_random, 1);
    lua_setfield(L, -2, "random");
    lua_pushlightuserdata(L, (void *)seed);
    lua_pushcclosure(L, swiftlet_lua_randomseed, 1);
    lua_setfield(L, -2, "randomseed");
}

// MARK: read-only tables
//
// Debian's Lua has no read-only tables. A protected table is an empty proxy whose metatable
// reads through to the real table and refuses writes; the proxies are remembered in the
// registry table "swiftlet_readonly" so rawset and setmetatable refuse them too.

static int swiftlet_lua_readonly_newindex(lua_State *L) {
    luaL_where(L, 1);
    lua_pushstring(L, "Attempt to modify a readonly table");
    lua_concat(L, 2);
    return lua_error(L);
}

static int swiftlet_lua_is_readonly(lua_State *L, int index) {
    if (!lua_istable(L, index)) return 0;
    lua_getfield(L, LUA_REGISTRYINDEX, "swiftlet_readonly");
    lua_pushvalue(L, index < 0 ? index - 1 : index);
    lua_rawget(L, -2);
    int readonly = lua_toboolean(L, -1);
    lua_pop(L, 2);
    return readonly;
}

/// The error of a C function writing a protected table (no script position, as in Redis).
static int swiftlet_lua_readonly_error(lua_State *L) {
    lua_pushstring(L, "Attempt to modify a readonly table");
    return lua_error(L);
}

static int swiftlet_lua_guarded_rawset(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checkany(L, 2);
    luaL_checkany(L, 3);
    if (swiftlet_lua_is_readonly(L, 1)) return swiftlet_lua_readonly_error(L);
    lua_settop(L, 3);
    lua_rawset(L, 1);
    return 1;
}

static int swiftlet_lua_guarded_setmetatable(lua_State *L) {
    int t = lua_type(L, 2);
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_argcheck(L, t == LUA_TNIL || t == LUA_TTABLE, 2, "nil or table expected");
    if (swiftlet_lua_is_readonly(L, 1)) return swiftlet_lua_readonly_error(L);
    if (luaL_getmetafield(L, 1, "__metatable")) return luaL_error(L, "cannot change a protected metatable");
    lua_settop(L, 2);
    lua_setmetatable(L, 1);
    return 1;
}

/// Replaces the table on top of the stack by a read-only proxy of it. getmetatable on the
/// proxy gives a read-only view of its metatable, so a script cannot unseal it that way.
static inline void swiftlet_lua_make_readonly(lua_State *L) {
    lua_newtable(L);                        /* real, proxy */
    lua_newtable(L);                        /* real, proxy, meta */
    lua_pushvalue(L, -3);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, swiftlet_lua_readonly_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_newtable(L);                        /* real, proxy, meta, meta view */
    lua_newtable(L);                        /* real, proxy, meta, meta view, its meta */
    lua_pushvalue(L, -3);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, swiftlet_lua_readonly_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);                /* real, proxy, meta, meta view */
    lua_setfield(L, -2, "__metatable");     /* real, proxy, meta */
    lua_setmetatable(L, -2);                /* real, proxy */
    lua_remove(L, -2);                      /* proxy */
    lua_getfield(L, LUA_REGISTRYINDEX, "swiftlet_readonly");
    lua_pushvalue(L, -2);
    lua_pushboolean(L, 1);
    lua_rawset(L, -3);
    lua_pop(L, 1);
}

static int swiftlet_lua_missing_global(lua_State *L) {
    const char *name = lua_tostring(L, 2);
    return luaL_error(L, "Script attempted to access nonexistent global variable '%s'", name ? name : "?");
}

/// Loads `length` bytes of source as a chunk, pushing it (0) or an error message. A
/// precompiled chunk (it starts with the bytecode signature's ESC) is read as source text,
/// so it fails to parse: Redis's Lua refuses bytecode, which could break out of the VM.
static int swiftlet_lua_load_source(lua_State *L, const char *text, size_t length, const char *name) {
    if (length == 0 || text[0] != LUA_SIGNATURE[0]) return luaL_loadbuffer(L, text, length, name);
    luaL_Buffer spaced;
    luaL_buffinit(L, &spaced);
    luaL_addchar(&spaced, ' ');
    luaL_addlstring(&spaced, text, length);
    luaL_pushresult(&spaced);
    size_t spacedLength;
    const char *spacedText = lua_tolstring(L, -1, &spacedLength);
    int status = luaL_loadbuffer(L, spacedText, spacedLength, name);
    lua_remove(L, -2);
    return status;
}

/// loadstring(text [, name]) refusing bytecode: the chunk, or nil and the error.
static int swiftlet_lua_loadstring(lua_State *L) {
    size_t length;
    const char *text = luaL_checklstring(L, 1, &length);
    const char *name = luaL_optstring(L, 2, text);
    if (swiftlet_lua_load_source(L, text, length, name) == 0) return 1;
    lua_pushnil(L);
    lua_insert(L, -2);
    return 2;
}

/// load(reader [, name]) refusing bytecode: the reader's pieces joined, then as loadstring.
static int swiftlet_lua_load(lua_State *L) {
    luaL_checktype(L, 1, LUA_TFUNCTION);
    const char *name = luaL_optstring(L, 2, "=(load)");
    lua_settop(L, 2);
    luaL_Buffer pieces;
    luaL_buffinit(L, &pieces);
    for (;;) {
        lua_pushvalue(L, 1);
        if (lua_pcall(L, 0, 1, 0) != 0) {
            lua_pushnil(L);
            lua_insert(L, -2);
            return 2;
        }
        if (lua_isnil(L, -1)) { lua_pop(L, 1); break; }
        if (!lua_isstring(L, -1)) {
            lua_pop(L, 1);
            lua_pushnil(L);
            lua_pushstring(L, "reader function must return a string");
            return 2;
        }
        if (lua_objlen(L, -1) == 0) { lua_pop(L, 1); break; }
        luaL_addvalue(&pieces);
    }
    luaL_pushresult(&pieces);
    size_t length;
    const char *text = lua_tolstring(L, -1, &length);
    if (swiftlet_lua_load_source(L, text, length, name) == 0) return 1;
    lua_pushnil(L);
    lua_insert(L, -2);
    return 2;
}

/// Seals the globals: reads of missing names fail, writes fail, and every chunk loaded
/// afterwards sees the read-only view. `_G` names the view.
static inline void swiftlet_lua_seal_globals(lua_State *L) {
    lua_newtable(L);
    lua_setfield(L, LUA_REGISTRYINDEX, "swiftlet_readonly");
    lua_pushcfunction(L, swiftlet_lua_guarded_rawset);
    lua_setfield(L, LUA_GLOBALSINDEX, "rawset");
    lua_pushcfunction(L, swiftlet_lua_guarded_setmetatable);
    lua_setfield(L, LUA_GLOBALSINDEX, "setmetatable");
    lua_pushcfunction(L, swiftlet_lua_loadstring);
    lua_setfield(L, LUA_GLOBALSINDEX, "loadstring");
    lua_pushcfunction(L, swiftlet_lua_load);
    lua_setfield(L, LUA_GLOBALSINDEX, "load");
    static const char *libraries[] = {"string", "table", "math", "redis", "coroutine", "bit", "cjson", "cmsgpack", "struct", NULL};
    for (const char **name = libraries; *name; name++) {
        lua_getfield(L, LUA_GLOBALSINDEX, *name);
        if (lua_istable(L, -1)) {
            swiftlet_lua_make_readonly(L);
            lua_setfield(L, LUA_GLOBALSINDEX, *name);
        } else {
            lua_pop(L, 1);
        }
    }
    lua_pushvalue(L, LUA_GLOBALSINDEX);     /* real globals */
    lua_newtable(L);
    lua_pushcfunction(L, swiftlet_lua_missing_global);
    lua_setfield(L, -2, "__index");
    lua_setmetatable(L, -2);
    lua_setfield(L, LUA_REGISTRYINDEX, "swiftlet_globals");
    lua_pushvalue(L, LUA_GLOBALSINDEX);
    swiftlet_lua_make_readonly(L);          /* view */
    lua_pushvalue(L, -1);
    lua_setfield(L, LUA_GLOBALSINDEX, "_G");
    lua_replace(L, LUA_GLOBALSINDEX);
}

/// Makes the library globals of a function state from the library `redis` table on top of
/// the stack (popped): a read-only table holding only that `redis`, where reading anything
/// missing fails as a missing global does. Call after swiftlet_lua_seal_globals.
static inline void swiftlet_lua_make_library_globals(lua_State *L) {
    lua_newtable(L);                        /* redis, missing-meta */
    lua_pushcfunction(L, swiftlet_lua_missing_global);
    lua_setfield(L, -2, "__index");
    lua_pushvalue(L, -1);
    lua_setmetatable(L, -3);                /* the redis table errs on missing names too */
    lua_insert(L, -2);                      /* missing-meta, redis */
    swiftlet_lua_make_readonly(L);
    lua_newtable(L);                        /* missing-meta, redis view, globals */
    lua_insert(L, -2);
    lua_setfield(L, -2, "redis");           /* missing-meta, globals */
    lua_insert(L, -2);
    lua_setmetatable(L, -2);                /* globals */
    swiftlet_lua_make_readonly(L);
    lua_setfield(L, LUA_REGISTRYINDEX, "swiftlet_library_globals");
}

/// Points the sealed globals' reads at the library globals (FUNCTION LOAD) or back at the
/// real globals. Closures keep the same globals table, so callbacks see the real ones later.
static inline void swiftlet_lua_use_library_globals(lua_State *L, int on) {
    lua_getmetatable(L, LUA_GLOBALSINDEX);
    lua_getfield(L, LUA_REGISTRYINDEX, on ? "swiftlet_library_globals" : "swiftlet_globals");
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
}

// MARK: errors and interruption

/// The pcall message handler: turns the error into a table {err=..., source=..., line=...}
/// naming the Lua function that failed (its caller when a C function raised it).
static int swiftlet_lua_error_handler(lua_State *L) {
    lua_Debug ar;
    int found = lua_getstack(L, 1, &ar) && lua_getinfo(L, "nSl", &ar);
    if (found && strcmp(ar.what, "C") == 0) found = lua_getstack(L, 2, &ar) && lua_getinfo(L, "nSl", &ar);
    if (!lua_istable(L, 1)) {
        const char *message = lua_tostring(L, 1);
        lua_newtable(L);
        lua_pushstring(L, "err");
        lua_pushfstring(L, "ERR %s", message ? message : (lua_isnil(L, 1) ? "nil" : luaL_typename(L, 1)));
        lua_rawset(L, -3);
        lua_replace(L, 1);
        lua_settop(L, 1);
    }
    if (found) {
        lua_pushstring(L, ar.source);
        lua_setfield(L, 1, "source");
        lua_pushinteger(L, ar.currentline);
        lua_setfield(L, 1, "line");
    }
    return 1;
}

/// Asked by the count hook whether the script must stop (SCRIPT KILL, or a restart).
typedef int (*swiftlet_lua_interrupt_fn)(lua_State *L);

static void swiftlet_lua_count_hook(lua_State *L, lua_Debug *ar) {
    (void)ar;
    lua_getfield(L, LUA_REGISTRYINDEX, "swiftlet_interrupt");
    swiftlet_lua_interrupt_fn fn = (swiftlet_lua_interrupt_fn)lua_touserdata(L, -1);
    lua_pop(L, 1);
    if (!fn || !fn(L)) return;
    // Raised on every line from now on, so that pcall inside the script cannot swallow it.
    lua_sethook(L, swiftlet_lua_count_hook, LUA_MASKLINE, 0);
    lua_getfield(L, LUA_REGISTRYINDEX, "swiftlet_interrupt_error");
    lua_error(L);
}

static inline void swiftlet_lua_set_interrupt(lua_State *L, swiftlet_lua_interrupt_fn fn) {
    lua_pushlightuserdata(L, (void *)fn);
    lua_setfield(L, LUA_REGISTRYINDEX, "swiftlet_interrupt");
}

/// Registry references a run uses instead of looking names up: the pcall message handler,
/// and for EVAL's state the real globals table and the interned names KEYS and ARGV.
struct swiftlet_lua_run_references { int error_handler, globals, keys_name, argv_name; };

/// Makes the references of a state whose globals are sealed (after swiftlet_lua_seal_globals).
static inline struct swiftlet_lua_run_references swiftlet_lua_make_run_references(lua_State *L) {
    struct swiftlet_lua_run_references references;
    lua_pushcfunction(L, swiftlet_lua_error_handler);
    references.error_handler = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_getfield(L, LUA_REGISTRYINDEX, "swiftlet_globals");
    references.globals = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_pushliteral(L, "KEYS");
    references.keys_name = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_pushliteral(L, "ARGV");
    references.argv_name = luaL_ref(L, LUA_REGISTRYINDEX);
    return references;
}

/// Sets the sealed globals KEYS and ARGV to the two tables on top of the stack (popped).
static inline void swiftlet_lua_set_keys_and_argv(lua_State *L, struct swiftlet_lua_run_references references) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, references.globals);   /* keys, argv, globals */
    lua_rawgeti(L, LUA_REGISTRYINDEX, references.argv_name);
    lua_pushvalue(L, -3);
    lua_rawset(L, -3);
    lua_rawgeti(L, LUA_REGISTRYINDEX, references.keys_name);
    lua_pushvalue(L, -4);
    lua_rawset(L, -3);
    lua_pop(L, 3);
}

static inline void swiftlet_lua_install_hook(lua_State *L, int instructions) {
    lua_sethook(L, swiftlet_lua_count_hook, LUA_MASKCOUNT, instructions);
}

/// Raises the interrupt error on every line from now on (a restart asked by redis.call).
static inline void swiftlet_lua_install_line_hook(lua_State *L) {
    lua_sethook(L, swiftlet_lua_count_hook, LUA_MASKLINE, 0);
}

static inline void swiftlet_lua_remove_hook(lua_State *L) { lua_sethook(L, NULL, 0, 0); }

#endif
