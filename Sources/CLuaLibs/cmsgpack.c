// The `cmsgpack` script library: cmsgpack.pack(...) encodes Lua values as MessagePack,
// cmsgpack.unpack / unpack_one / unpack_limit decode a stream of them. Written for
// Swiftlet from the MessagePack specification; the choices Redis 7.0.15's scripts observe
// are kept (see CLuaLibsTests, which compares bytes with a live redis-server):
// - integral numbers take the smallest integer encoding, other numbers a float 32 when
//   that holds them exactly and a float 64 otherwise;
// - strings are always the str family (never bin);
// - a table is an array when its keys are exactly 1..n (empty tables included), else a map;
// - tables nested deeper than 16 levels, and values with no MessagePack form (nil,
//   functions, userdata, threads), encode as nil;
// - decoding rejects bin, ext and the reserved byte as bad data, and uint 64 values of
//   2^63 and above come back negative, as they do in Redis.
#include "libraries.h"

#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include <lua5.1/lauxlib.h>

enum { DEEPEST_PACKED_TABLE = 16 };

static const char *const BUFFER_METATABLE = "swiftlet.cmsgpack.buffer";

/* ---- Output buffer: a userdata on the stack, so a Lua error mid-encode frees it. Its
 * bytes come from the state's allocator, so the state's memory accounting sees them. ---- */

typedef struct pack_buffer {
    unsigned char *bytes;
    size_t length;
    size_t capacity;
} pack_buffer;

static void *reallocate(lua_State *L, void *block, size_t old_size, size_t new_size) {
    void *allocator_data;
    lua_Alloc allocate = lua_getallocf(L, &allocator_data);
    return allocate(allocator_data, block, old_size, new_size);
}

static void pack_buffer_clear(lua_State *L, pack_buffer *buffer) {
    reallocate(L, buffer->bytes, buffer->capacity, 0);
    buffer->bytes = NULL;
    buffer->length = buffer->capacity = 0;
}

/* The buffer's __gc, for buffers an error left behind. */
static int pack_buffer_release(lua_State *L) {
    pack_buffer_clear(L, lua_touserdata(L, 1));
    return 0;
}

static pack_buffer *pack_buffer_push(lua_State *L) {
    pack_buffer *buffer = lua_newuserdata(L, sizeof *buffer);
    buffer->bytes = NULL;
    buffer->length = buffer->capacity = 0;
    luaL_getmetatable(L, BUFFER_METATABLE);
    lua_setmetatable(L, -2);
    return buffer;
}

static void pack_buffer_append(lua_State *L, pack_buffer *buffer, const void *bytes, size_t count) {
    if (count > buffer->capacity - buffer->length) {
        if (count > SIZE_MAX / 4 - buffer->length) luaL_error(L, "not enough memory");
        size_t capacity = (buffer->length + count) * 2;
        if (capacity < 64) capacity = 64;
        unsigned char *grown = reallocate(L, buffer->bytes, buffer->capacity, capacity);
        if (grown == NULL) luaL_error(L, "not enough memory");
        buffer->bytes = grown;
        buffer->capacity = capacity;
    }
    memcpy(buffer->bytes + buffer->length, bytes, count);
    buffer->length += count;
}

/* Appends `tag` followed by the low `size` bytes of `value`, most significant first. */
static void append_tagged(lua_State *L, pack_buffer *buffer, unsigned char tag, uint64_t value, size_t size) {
    unsigned char bytes[9];
    bytes[0] = tag;
    for (size_t i = 0; i < size; i++) bytes[size - i] = (unsigned char)(value >> (8 * i));
    pack_buffer_append(L, buffer, bytes, size + 1);
}

/* Appends a header whose count fits a fix form below `fix_limit`, else 16 or 32 bits. */
static void append_header(lua_State *L, pack_buffer *buffer, uint64_t count, unsigned char fix_tag,
                          uint64_t fix_limit, unsigned char tag16, unsigned char tag32) {
    if (count < fix_limit) append_tagged(L, buffer, (unsigned char)(fix_tag | count), 0, 0);
    else if (count <= 0xffff) append_tagged(L, buffer, tag16, count, 2);
    else append_tagged(L, buffer, tag32, count & 0xffffffffu, 4);
}

/* ---- Encoding ---- */

static void encode_integer(lua_State *L, pack_buffer *buffer, int64_t value) {
    if (value >= 0) {
        uint64_t magnitude = (uint64_t)value;
        if (magnitude <= 0x7f) append_tagged(L, buffer, (unsigned char)magnitude, 0, 0);
        else if (magnitude <= 0xff) append_tagged(L, buffer, 0xcc, magnitude, 1);
        else if (magnitude <= 0xffff) append_tagged(L, buffer, 0xcd, magnitude, 2);
        else if (magnitude <= 0xffffffffu) append_tagged(L, buffer, 0xce, magnitude, 4);
        else append_tagged(L, buffer, 0xcf, magnitude, 8);
    } else {
        uint64_t bits = (uint64_t)value;
        if (value >= -32) append_tagged(L, buffer, (unsigned char)bits, 0, 0);
        else if (value >= INT8_MIN) append_tagged(L, buffer, 0xd0, bits, 1);
        else if (value >= INT16_MIN) append_tagged(L, buffer, 0xd1, bits, 2);
        else if (value >= INT32_MIN) append_tagged(L, buffer, 0xd2, bits, 4);
        else append_tagged(L, buffer, 0xd3, bits, 8);
    }
}

static void encode_floating(lua_State *L, pack_buffer *buffer, double value) {
    int fits_float = !isnan(value) && (isinf(value) || fabs(value) <= FLT_MAX) && (double)(float)value == value;
    if (fits_float) {
        float narrow = (float)value;
        uint32_t bits;
        memcpy(&bits, &narrow, sizeof bits);
        append_tagged(L, buffer, 0xca, bits, 4);
    } else {
        uint64_t bits;
        memcpy(&bits, &value, sizeof bits);
        append_tagged(L, buffer, 0xcb, bits, 8);
    }
}

static void encode_number(lua_State *L, pack_buffer *buffer, lua_Number number) {
    int is_int64 = number >= -9223372036854775808.0 && number < 9223372036854775808.0
        && (lua_Number)(int64_t)number == number;
    if (is_int64) encode_integer(L, buffer, (int64_t)number);
    else encode_floating(L, buffer, number);
}

static void encode_string(lua_State *L, pack_buffer *buffer) {
    size_t length;
    const char *string = lua_tolstring(L, -1, &length);
    if (length < 32) append_tagged(L, buffer, (unsigned char)(0xa0 | length), 0, 0);
    else if (length <= 0xff) append_tagged(L, buffer, 0xd9, length, 1);
    else append_header(L, buffer, length, 0xa0, 32, 0xda, 0xdb);
    pack_buffer_append(L, buffer, string, length);
}

/* Whether the table on top of the stack has exactly the keys 1..n (n >= 0). */
static int table_is_sequence(lua_State *L) {
    int count = 0;
    int largest = 0;
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        lua_pop(L, 1);
        lua_Number key = lua_type(L, -1) == LUA_TNUMBER ? lua_tonumber(L, -1) : 0;
        if (!(key > 0 && key <= INT_MAX && (lua_Number)(int)key == key)) {
            lua_pop(L, 1);
            return 0;
        }
        if ((int)key > largest) largest = (int)key;
        count++;
    }
    return largest == count;
}

static void encode_value(lua_State *L, pack_buffer *buffer, int level);

static void encode_table(lua_State *L, pack_buffer *buffer, int level) {
    luaL_checkstack(L, 3, "cmsgpack.pack: nesting too deep");
    if (table_is_sequence(L)) {
        size_t length = lua_objlen(L, -1);
        append_header(L, buffer, length, 0x90, 16, 0xdc, 0xdd);
        for (size_t index = 1; index <= length; index++) {
            lua_rawgeti(L, -1, (int)index);
            encode_value(L, buffer, level + 1);
        }
        return;
    }
    size_t pairs = 0;
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        lua_pop(L, 1);
        pairs++;
    }
    append_header(L, buffer, pairs, 0x80, 16, 0xde, 0xdf);
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        lua_pushvalue(L, -2);
        encode_value(L, buffer, level + 1); /* the key's copy */
        encode_value(L, buffer, level + 1); /* the value */
    }
}

/* Encodes the value on top of the stack and pops it. */
static void encode_value(lua_State *L, pack_buffer *buffer, int level) {
    int type = lua_type(L, -1);
    if (type == LUA_TTABLE && level == DEEPEST_PACKED_TABLE) type = LUA_TNIL;
    switch (type) {
    case LUA_TSTRING: encode_string(L, buffer); break;
    case LUA_TBOOLEAN: append_tagged(L, buffer, lua_toboolean(L, -1) ? 0xc3 : 0xc2, 0, 0); break;
    case LUA_TNUMBER: encode_number(L, buffer, lua_tonumber(L, -1)); break;
    case LUA_TTABLE: encode_table(L, buffer, level); break;
    default: append_tagged(L, buffer, 0xc0, 0, 0); break;
    }
    lua_pop(L, 1);
}

static int cmsgpack_pack(lua_State *L) {
    int arguments = lua_gettop(L);
    if (arguments == 0) return luaL_argerror(L, 0, "MessagePack pack needs input.");
    if (!lua_checkstack(L, arguments)) return luaL_argerror(L, 0, "Too many arguments for MessagePack pack.");
    pack_buffer *buffer = pack_buffer_push(L);
    for (int argument = 1; argument <= arguments; argument++) {
        lua_pushvalue(L, argument);
        encode_value(L, buffer, 0);
    }
    lua_pushlstring(L, (const char *)buffer->bytes, buffer->length);
    pack_buffer_clear(L, buffer);
    return 1;
}

/* ---- Decoding ---- */

typedef enum decode_status { DECODED, MISSING_BYTES, BAD_FORMAT } decode_status;

typedef struct cursor {
    const unsigned char *next;
    size_t left;
    decode_status status;
} cursor;

static int cursor_has(cursor *input, size_t count) {
    if (input->left >= count) return 1;
    input->status = MISSING_BYTES;
    return 0;
}

static void cursor_skip(cursor *input, size_t count) {
    input->next += count;
    input->left -= count;
}

/* The `size`-byte big-endian number after the tag byte; the caller checked the length. */
static uint64_t read_big_endian(const cursor *input, size_t size) {
    uint64_t value = 0;
    for (size_t i = 1; i <= size; i++) value = (value << 8) | input->next[i];
    return value;
}

static void decode_value(lua_State *L, cursor *input);

static void decode_array(lua_State *L, cursor *input, uint64_t length) {
    lua_newtable(L);
    /* Redis checks the stack here too, so deep nesting fails at the same depth and with
     * the same text. */
    luaL_checkstack(L, 1, "in function mp_decode_to_lua_array");
    for (uint64_t index = 1; index <= length; index++) {
        lua_pushnumber(L, (lua_Number)index);
        decode_value(L, input);
        if (input->status != DECODED) return;
        lua_settable(L, -3);
    }
}

static void decode_map(lua_State *L, cursor *input, uint64_t pairs) {
    lua_newtable(L);
    while (pairs-- > 0) {
        decode_value(L, input);
        if (input->status != DECODED) return;
        decode_value(L, input);
        if (input->status != DECODED) return;
        lua_settable(L, -3); /* a nil or NaN key raises Lua's own error, as in Redis */
    }
}

/* Pushes a tagged number of `size` bytes (signed or not) and consumes it. */
static void decode_integer(lua_State *L, cursor *input, size_t size, int is_signed) {
    if (!cursor_has(input, 1 + size)) return;
    uint64_t bits = read_big_endian(input, size);
    if (is_signed && size < 8 && (bits >> (8 * size - 1)) != 0) bits |= ~0ULL << (8 * size);
    lua_pushnumber(L, (lua_Number)(int64_t)bits);
    cursor_skip(input, 1 + size);
}

/* Pushes a string whose length takes `size` bytes after the tag, and consumes it. */
static void decode_string(lua_State *L, cursor *input, size_t size) {
    if (!cursor_has(input, 1 + size)) return;
    uint64_t length = read_big_endian(input, size);
    cursor_skip(input, 1 + size);
    if (!cursor_has(input, length)) return;
    lua_pushlstring(L, (const char *)input->next, (size_t)length);
    cursor_skip(input, (size_t)length);
}

/* Decodes an array (or map) whose count takes `size` bytes after the tag. */
static void decode_container(lua_State *L, cursor *input, size_t size, int is_map) {
    if (!cursor_has(input, 1 + size)) return;
    uint64_t count = read_big_endian(input, size);
    cursor_skip(input, 1 + size);
    if (is_map) decode_map(L, input, count);
    else decode_array(L, input, count);
}

static void decode_floating(lua_State *L, cursor *input, size_t size) {
    if (!cursor_has(input, 1 + size)) return;
    uint64_t bits = read_big_endian(input, size);
    if (size == 4) {
        uint32_t narrow_bits = (uint32_t)bits;
        float narrow;
        memcpy(&narrow, &narrow_bits, sizeof narrow);
        lua_pushnumber(L, narrow);
    } else {
        double wide;
        memcpy(&wide, &bits, sizeof wide);
        lua_pushnumber(L, wide);
    }
    cursor_skip(input, 1 + size);
}

/* Pushes the next value of `input`, or sets its status (leaving the stack to the error). */
static void decode_value(lua_State *L, cursor *input) {
    if (!cursor_has(input, 1)) return;
    luaL_checkstack(L, 1, "too many return values at once; use unpack_one or unpack_limit instead.");
    unsigned char tag = input->next[0];
    if (tag <= 0x7f || tag >= 0xe0) {
        lua_pushnumber(L, (signed char)tag >= 0 ? tag : (signed char)tag);
        cursor_skip(input, 1);
        return;
    }
    if ((tag & 0xe0) == 0xa0) {
        size_t length = tag & 0x1f;
        if (!cursor_has(input, 1 + length)) return;
        lua_pushlstring(L, (const char *)input->next + 1, length);
        cursor_skip(input, 1 + length);
        return;
    }
    if ((tag & 0xe0) == 0x80) {
        cursor_skip(input, 1);
        if (tag & 0x10) decode_array(L, input, tag & 0x0f);
        else decode_map(L, input, tag & 0x0f);
        return;
    }
    switch (tag) {
    case 0xc0: lua_pushnil(L); cursor_skip(input, 1); return;
    case 0xc2: lua_pushboolean(L, 0); cursor_skip(input, 1); return;
    case 0xc3: lua_pushboolean(L, 1); cursor_skip(input, 1); return;
    case 0xca: decode_floating(L, input, 4); return;
    case 0xcb: decode_floating(L, input, 8); return;
    case 0xcc: decode_integer(L, input, 1, 0); return;
    case 0xcd: decode_integer(L, input, 2, 0); return;
    case 0xce: decode_integer(L, input, 4, 0); return;
    case 0xcf: decode_integer(L, input, 8, 0); return;
    case 0xd0: decode_integer(L, input, 1, 1); return;
    case 0xd1: decode_integer(L, input, 2, 1); return;
    case 0xd2: decode_integer(L, input, 4, 1); return;
    case 0xd3: decode_integer(L, input, 8, 1); return;
    case 0xd9: decode_string(L, input, 1); return;
    case 0xda: decode_string(L, input, 2); return;
    case 0xdb: decode_string(L, input, 4); return;
    case 0xdc: decode_container(L, input, 2, 0); return;
    case 0xdd: decode_container(L, input, 4, 0); return;
    case 0xde: decode_container(L, input, 2, 1); return;
    case 0xdf: decode_container(L, input, 4, 1); return;
    default: input->status = BAD_FORMAT; return;
    }
}

/* Decodes up to `limit` values from argument 1 starting at byte `offset`. With neither a
 * limit nor an offset it decodes everything and returns just the values; otherwise the
 * first result is the offset to continue from (-1 once the input is used up). */
static int unpack_values(lua_State *L, lua_Integer limit, lua_Integer offset) {
    size_t length;
    const char *input_bytes = luaL_checklstring(L, 1, &length);
    int everything = limit == 0 && offset == 0;
    /* Redis reports the input length where the text says limit; scripts see that text. */
    if (offset < 0 || limit < 0)
        return luaL_error(L, "Invalid request to unpack with offset of %d and limit of %d.", (int)offset, (int)length);
    if ((size_t)offset > length)
        return luaL_error(L, "Start offset %d greater than input length %d.", (int)offset, (int)length);
    if (everything) limit = INT_MAX;
    cursor input = {(const unsigned char *)input_bytes + offset, length - (size_t)offset, DECODED};
    int values = 0;
    while (input.left > 0 && values < limit) {
        decode_value(L, &input);
        if (input.status == MISSING_BYTES) return luaL_error(L, "Missing bytes in input.");
        if (input.status == BAD_FORMAT) return luaL_error(L, "Bad data format in input.");
        values++;
    }
    if (everything) return values;
    luaL_checkstack(L, 1, "cmsgpack.unpack: too many results");
    lua_pushinteger(L, input.left == 0 ? -1 : (lua_Integer)(length - input.left));
    lua_insert(L, 2);
    return values + 1;
}

/* Leaves only the input string (or nothing, when there was none) below the results. */
static void keep_only_input(lua_State *L) {
    if (lua_gettop(L) > 1) lua_settop(L, 1);
}

static int cmsgpack_unpack(lua_State *L) {
    return unpack_values(L, 0, 0);
}

static int cmsgpack_unpack_one(lua_State *L) {
    lua_Integer offset = luaL_optinteger(L, 2, 0);
    keep_only_input(L);
    return unpack_values(L, 1, offset);
}

static int cmsgpack_unpack_limit(lua_State *L) {
    lua_Integer limit = luaL_checkinteger(L, 2);
    lua_Integer offset = luaL_optinteger(L, 3, 0);
    keep_only_input(L);
    return unpack_values(L, limit, offset);
}

int swiftlet_open_cmsgpack(lua_State *L) {
    static const luaL_Reg functions[] = {
        {"pack", cmsgpack_pack},
        {"unpack", cmsgpack_unpack},
        {"unpack_one", cmsgpack_unpack_one},
        {"unpack_limit", cmsgpack_unpack_limit},
        {NULL, NULL},
    };
    if (luaL_newmetatable(L, BUFFER_METATABLE)) {
        lua_pushcfunction(L, pack_buffer_release);
        lua_setfield(L, -2, "__gc");
    }
    lua_pop(L, 1);
    lua_newtable(L);
    luaL_register(L, NULL, functions);
    /* DIVERGENCE: Redis's table also names lua-cmsgpack's author and description
     * (_COPYRIGHT, _DESCRIPTION); this is not that code, so only the name and the
     * interface version it matches are given. */
    lua_pushliteral(L, "cmsgpack");
    lua_setfield(L, -2, "_NAME");
    lua_pushliteral(L, "lua-cmsgpack 0.4.0");
    lua_setfield(L, -2, "_VERSION");
    return 1;
}
