// The `cjson` script library is Debian's lua-cjson 2.1.0, the same release Redis 7.0
// bundles, so encoding, decoding, number formatting, error texts and the configuration
// functions are that code's own. Redis patched its copy against CVE-2022-24834: Debian's
// sizes its output buffer with C ints, so encoding a string over about 341 MiB, or output
// over 2 GiB, overflows the heap. Each module table (cjson and every cjson.new()) gets
// encode and decode wrappers that first bound the worst-case sizes and then pass the call
// on, keeping the library's argument errors and error positions as Redis's show them.
#include "libraries.h"

#include <stdint.h>
#include <string.h>

#include <lua5.1/lauxlib.h>
#include <lua5.1/lua-cjson.h>

/* Debian's buffers grow from 1023 bytes by doubling in an int: any request up to this many
 * bytes stays below INT_MAX at every step. */
static const size_t LARGEST_SAFE_BUFFER = 2000000000;

/* Bytes Debian's encoder reserves for a number (its formatting buffer), for a number key
 * with its quotes and colon, and for one "null," standing for a hole in a sparse array. */
enum { NUMBER_RESERVE = 32, NUMBER_KEY_RESERVE = NUMBER_RESERVE + 3, HOLE_RESERVE = 5 };

typedef struct encode_estimate {
    size_t written;          /* at least the bytes the encoder has output so far */
    lua_Number depth_limit;  /* encode_max_depth: deeper tables fail in cjson itself */
    lua_Number sparse_ratio; /* encode_sparse_array's ratio and safe length, which decide */
    lua_Number sparse_safe;  /* whether a table of integer keys becomes an array with holes */
} encode_estimate;

/* Adds `bytes` of output; 0 when that would pass the safe size. */
static int charge(encode_estimate *estimate, size_t bytes) {
    if (bytes > LARGEST_SAFE_BUFFER - estimate->written) return 0;
    estimate->written += bytes;
    return 1;
}

/* Length of `string` once escaped as cjson escapes it. */
static size_t escaped_length(const unsigned char *string, size_t length) {
    size_t escaped = length;
    for (size_t i = 0; i < length; i++) {
        unsigned char byte = string[i];
        if (byte == '"' || byte == '\\' || byte == '/' || byte == '\b' || byte == '\t' || byte == '\n'
            || byte == '\f' || byte == '\r')
            escaped += 1;
        else if (byte < 0x20 || byte == 0x7f)
            escaped += 5;
    }
    return escaped;
}

/* Charges the string at `index` plus `extra` bytes. Before each string the encoder reserves
 * six bytes per input byte and its quotes, and that reservation is what must stay safe. */
static int charge_string(lua_State *L, int index, encode_estimate *estimate, size_t extra) {
    size_t length;
    const char *string = lua_tolstring(L, index, &length);
    size_t room = LARGEST_SAFE_BUFFER - estimate->written;
    if (room < 2 || length > (room - 2) / 6) return 0;
    return charge(estimate, escaped_length((const unsigned char *)string, length) + 2 + extra);
}

static int estimate_value(lua_State *L, encode_estimate *estimate, int depth);

/* Charges the table on top of the stack; 0 once the output could be unsafe. Tables past the
 * depth limit (or the Lua stack's) cost nothing: cjson stops with its own error there. */
static int estimate_table(lua_State *L, encode_estimate *estimate, int depth) {
    if (depth > estimate->depth_limit || !lua_checkstack(L, 3)) return 1;
    if (!charge(estimate, 2)) return 0;
    lua_Number items = 0, largest_index = 0;
    int only_indexes = 1;
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        items++;
        int affordable;
        if (lua_type(L, -2) == LUA_TNUMBER) {
            lua_Number key = lua_tonumber(L, -2);
            if (key >= 1 && key == (lua_Number)(int64_t)key) {
                if (key > largest_index) largest_index = key;
            } else {
                only_indexes = 0;
            }
            affordable = charge(estimate, NUMBER_KEY_RESERVE + 1);
        } else {
            only_indexes = 0;
            affordable = lua_type(L, -2) == LUA_TSTRING ? charge_string(L, -2, estimate, 2) : 1;
        }
        affordable = affordable && estimate_value(L, estimate, depth);
        lua_pop(L, 1);
        if (!affordable) {
            lua_pop(L, 1);
            return 0;
        }
    }
    int sparse = estimate->sparse_ratio > 0 && largest_index > items * estimate->sparse_ratio
        && largest_index > estimate->sparse_safe;
    if (!only_indexes || sparse || largest_index <= items) return 1;
    lua_Number holes = largest_index - items;
    return holes <= (lua_Number)(LARGEST_SAFE_BUFFER / HOLE_RESERVE) && charge(estimate, (size_t)holes * HOLE_RESERVE);
}

static int estimate_value(lua_State *L, encode_estimate *estimate, int depth) {
    switch (lua_type(L, -1)) {
    case LUA_TSTRING: return charge_string(L, -1, estimate, 0);
    case LUA_TTABLE: return estimate_table(L, estimate, depth + 1);
    default: return charge(estimate, NUMBER_RESERVE);
    }
}

/* Calls the configuration function in upvalue `upvalue` without arguments. */
static void read_setting(lua_State *L, int upvalue, int results) {
    lua_pushvalue(L, lua_upvalueindex(upvalue));
    lua_call(L, 0, results);
}

static int raise_with_position(lua_State *L) {
    luaL_where(L, 1); /* the calling script's line */
    lua_insert(L, -2);
    lua_concat(L, 2);
    return lua_error(L);
}

/* Calls the library function in upvalue 1 with the wrapper's one argument. Its errors
 * come from luaL_error one level below the script, so they lack the script position that
 * Redis's direct call shows; it is added back here. */
static int call_library(lua_State *L) {
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_pushvalue(L, 1);
    int status = lua_pcall(L, 1, 1, 0);
    if (status == LUA_ERRRUN && lua_type(L, -1) == LUA_TSTRING) return raise_with_position(L);
    if (status != 0) return lua_error(L);
    return 1;
}

static int raise_too_large(lua_State *L, const char *what) {
    lua_pushfstring(L, "%s %d bytes", what, (int)LARGEST_SAFE_BUFFER);
    return raise_with_position(L);
}

/* encode(value), upvalues: cjson's encode, encode_max_depth, encode_sparse_array. */
static int guarded_encode(lua_State *L) {
    /* The library's own argument check, made here where the script's name for the
     * function is known. */
    luaL_argcheck(L, lua_gettop(L) == 1, 1, "expected 1 argument");
    encode_estimate estimate = {0, 0, 0, 0};
    read_setting(L, 2, 1);
    estimate.depth_limit = lua_tonumber(L, -1);
    read_setting(L, 3, 3);
    estimate.sparse_ratio = lua_tonumber(L, -2);
    estimate.sparse_safe = lua_tonumber(L, -1);
    lua_settop(L, 1);
    /* DIVERGENCE: Redis's patched copy would encode such values; Debian's would corrupt
     * the heap, so they are refused. */
    if (!estimate_value(L, &estimate, 0)) return raise_too_large(L, "Cannot serialise, output could exceed");
    return call_library(L);
}

/* decode(text), upvalue: cjson's decode. */
static int guarded_decode(lua_State *L) {
    luaL_argcheck(L, lua_gettop(L) == 1, 1, "expected 1 argument");
    size_t length;
    luaL_checklstring(L, 1, &length);
    /* DIVERGENCE: as for encode, for texts whose size Debian's decoder mishandles. */
    if (length > LARGEST_SAFE_BUFFER) return raise_too_large(L, "Cannot decode JSON text longer than");
    return call_library(L);
}

static void guard_module(lua_State *L);

/* new(), upvalue: cjson's new; the fresh module gets the same wrappers. */
static int guarded_new(lua_State *L) {
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_call(L, 0, 1);
    guard_module(L);
    return 1;
}

/* Replaces encode, decode and new in the cjson module table on top of the stack. */
static void guard_module(lua_State *L) {
    lua_getfield(L, -1, "encode");
    lua_getfield(L, -2, "encode_max_depth");
    lua_getfield(L, -3, "encode_sparse_array");
    lua_pushcclosure(L, guarded_encode, 3);
    lua_setfield(L, -2, "encode");
    lua_getfield(L, -1, "decode");
    lua_pushcclosure(L, guarded_decode, 1);
    lua_setfield(L, -2, "decode");
    lua_getfield(L, -1, "new");
    lua_pushcclosure(L, guarded_new, 1);
    lua_setfield(L, -2, "new");
}

int swiftlet_open_cjson(lua_State *L) {
    lua_pushcfunction(L, luaopen_cjson);
    lua_call(L, 0, 1);
    guard_module(L);
    return 1;
}
