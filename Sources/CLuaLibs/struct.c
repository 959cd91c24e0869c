// The `struct` script library: struct.pack(format, ...), struct.unpack(format, data [, init])
// and struct.size(format), converting Lua numbers and strings to and from binary records.
// Written for Swiftlet from the library's documented format language; sizes, alignment
// and error texts follow what Redis 7.0.15 scripts observe (see CLuaLibsTests).
//
// Format options: '>' big endian, '<' little endian, '![n]' maximum alignment n (a power of
// two, default the platform's largest), ' ' ignored, 'x' one zero byte, 'b'/'B' signed and
// unsigned char, 'h'/'H' short, 'l'/'L' long, 'T' size_t, 'i[n]'/'I[n]' integer of n bytes
// (default sizeof(int), at most 32), 'f' float, 'd' double, 's' zero-terminated string,
// 'c[n]' n raw bytes (n = 0: the whole string when packing, the previous number when
// unpacking). Integers travel as Lua numbers (doubles), through a C long.
#include "libraries.h"

#include <ctype.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <lua5.1/lauxlib.h>

enum { LARGEST_INTEGER_BYTES = 32 };

/* The platform's largest alignment requirement, the default for '!' without a number. */
struct alignment_probe { char c; double d; };
#define ALIGNMENT_OF_DOUBLE (offsetof(struct alignment_probe, d))
#define LARGEST_ALIGNMENT (ALIGNMENT_OF_DOUBLE > sizeof(int) ? ALIGNMENT_OF_DOUBLE : sizeof(int))

typedef struct format_state {
    int little_endian;
    size_t alignment;
} format_state;

static int host_is_little_endian(void) {
    const uint16_t probe = 1;
    return *(const uint8_t *)&probe == 1;
}

static void format_state_init(format_state *state) {
    state->little_endian = host_is_little_endian();
    state->alignment = 1;
}

/* Reads the decimal number at *format (advancing past it), or returns fallback if none. */
static int read_count(lua_State *L, const char **format, int fallback) {
    if (!isdigit((unsigned char)**format)) return fallback;
    int count = 0;
    while (isdigit((unsigned char)**format)) {
        int digit = **format - '0';
        if (count > INT_MAX / 10 || count * 10 > INT_MAX - digit) luaL_error(L, "integral size overflow");
        count = count * 10 + digit;
        (*format)++;
    }
    return count;
}

/* Size in bytes of option `option`, reading its count if it takes one; 0 for options
 * without a fixed size (control characters, 's'). */
static size_t option_size(lua_State *L, int option, const char **format) {
    switch (option) {
    case 'b': case 'B': return sizeof(char);
    case 'h': case 'H': return sizeof(short);
    case 'l': case 'L': return sizeof(long);
    case 'T': return sizeof(size_t);
    case 'f': return sizeof(float);
    case 'd': return sizeof(double);
    case 'x': return 1;
    case 'c': return (size_t)read_count(L, format, 1);
    case 'i': case 'I': {
        int size = read_count(L, format, (int)sizeof(int));
        if (size > LARGEST_INTEGER_BYTES)
            luaL_error(L, "integral size %d is larger than limit of %d", size, LARGEST_INTEGER_BYTES);
        return (size_t)size;
    }
    default: return 0;
    }
}

/* Zero bytes needed before an item of `size` bytes at offset `offset`. The mask arithmetic
 * is the library's own rule, kept as is for sizes that are not powers of two. */
static size_t padding_before(size_t offset, const format_state *state, int option, size_t size) {
    if (size == 0 || option == 'c') return 0;
    if (size > state->alignment) size = state->alignment;
    return (size - (offset & (size - 1))) & (size - 1);
}

/* Applies a control option (endianness, alignment, space); anything else is an error. */
static void apply_control_option(lua_State *L, int option, const char **format, format_state *state) {
    switch (option) {
    case ' ': return;
    case '>': state->little_endian = 0; return;
    case '<': state->little_endian = 1; return;
    case '!': {
        int alignment = read_count(L, format, (int)LARGEST_ALIGNMENT);
        if (alignment <= 0 || (alignment & (alignment - 1)) != 0)
            luaL_error(L, "alignment %d is not a power of 2", alignment);
        state->alignment = (size_t)alignment;
        return;
    }
    default:
        luaL_argerror(L, 1, lua_pushfstring(L, "invalid format option '%c'", option));
    }
}

/* Copies `size` bytes, reversed when the requested byte order is not the host's. */
static void copy_in_order(char *destination, const char *source, size_t size, int little_endian) {
    if (little_endian == host_is_little_endian()) {
        memcpy(destination, source, size);
        return;
    }
    for (size_t i = 0; i < size; i++) destination[i] = source[size - 1 - i];
}

/* C's conversion of an out-of-range double to an integer is undefined; these give the
 * x86-64 results Redis's build (gcc) observes: the "integer indefinite" value 2^63 for
 * anything a long cannot hold, and for unsigned conversions at or above 2^63 the result of
 * converting n - 2^63 with the top bit flipped. */
static long truncate_to_long(lua_Number number) {
    if (number >= -9223372036854775808.0 && number < 9223372036854775808.0) return (long)number;
    return LONG_MIN;
}

static unsigned long truncate_to_unsigned_long(lua_Number number) {
    if (!(number >= 9223372036854775808.0)) return (unsigned long)truncate_to_long(number);
    return (unsigned long)truncate_to_long(number - 9223372036854775808.0) ^ (1UL << 63);
}

static void pack_integer(lua_State *L, luaL_Buffer *buffer, int argument, int little_endian, size_t size) {
    lua_Number number = luaL_checknumber(L, argument);
    unsigned long bits = number < 0 ? (unsigned long)truncate_to_long(number) : truncate_to_unsigned_long(number);
    char bytes[LARGEST_INTEGER_BYTES];
    for (size_t i = 0; i < size; i++) {
        bytes[little_endian ? i : size - 1 - i] = (char)(bits & 0xff);
        bits >>= 8;
    }
    luaL_addlstring(buffer, bytes, size);
}

/* Packs argument `argument` as a float (size 4) or a double (size 8). */
static void pack_floating(lua_State *L, luaL_Buffer *buffer, int argument, int little_endian, size_t size) {
    lua_Number number = luaL_checknumber(L, argument);
    float narrow = (float)number;
    double wide = number;
    char bytes[sizeof wide];
    copy_in_order(bytes, size == sizeof narrow ? (const char *)&narrow : (const char *)&wide, size, little_endian);
    luaL_addlstring(buffer, bytes, size);
}

static int struct_pack(lua_State *L) {
    const char *format = luaL_checkstring(L, 1);
    format_state state;
    format_state_init(&state);
    int argument = 2;
    size_t offset = 0;
    luaL_Buffer buffer;
    lua_pushnil(L); /* keeps the arguments apart from the buffer's stack slots */
    luaL_buffinit(L, &buffer);
    while (*format != '\0') {
        int option = (unsigned char)*format++;
        size_t size = option_size(L, option, &format);
        size_t padding = padding_before(offset, &state, option, size);
        offset += padding;
        while (padding-- > 0) luaL_addchar(&buffer, '\0');
        switch (option) {
        case 'b': case 'B': case 'h': case 'H': case 'l': case 'L': case 'T': case 'i': case 'I':
            pack_integer(L, &buffer, argument++, state.little_endian, size);
            break;
        case 'x':
            luaL_addchar(&buffer, '\0');
            break;
        case 'f': case 'd':
            pack_floating(L, &buffer, argument++, state.little_endian, size);
            break;
        case 'c': case 's': {
            size_t length;
            const char *string = luaL_checklstring(L, argument++, &length);
            if (size == 0) size = length;
            /* The library names the argument after the string's, as Redis's does. */
            luaL_argcheck(L, length >= size, argument, "string too short");
            luaL_addlstring(&buffer, string, size);
            if (option == 's') {
                luaL_addchar(&buffer, '\0');
                size++;
            }
            break;
        }
        default:
            apply_control_option(L, option, &format, &state);
        }
        offset += size;
    }
    luaL_pushresult(&buffer);
    return 1;
}

static lua_Number unpack_floating(const char *bytes, int little_endian, size_t size) {
    float narrow;
    double wide;
    if (size == sizeof narrow) {
        copy_in_order((char *)&narrow, bytes, size, little_endian);
        return narrow;
    }
    copy_in_order((char *)&wide, bytes, size, little_endian);
    return wide;
}

static lua_Number unpack_integer(const char *bytes, int little_endian, int is_signed, size_t size) {
    unsigned long bits = 0;
    for (size_t i = 0; i < size; i++) {
        bits <<= 8;
        bits |= (unsigned char)bytes[little_endian ? size - 1 - i : i];
    }
    if (!is_signed) return (lua_Number)bits;
    /* Sign bit of a `size`-byte integer; the shift count wraps at the width of a long as
     * the x86-64 shift instruction does, which is what Redis's build observes for sizes
     * over 8 and for size 0. */
    unsigned long sign_and_above = ~0UL << ((size * 8 - 1) & (sizeof bits * 8 - 1));
    if (bits & sign_and_above) bits |= sign_and_above;
    return (lua_Number)(long)bits;
}

static void check_data_left(lua_State *L, size_t data_length, size_t position, size_t size) {
    luaL_argcheck(L, size <= data_length && position <= data_length - size, 2, "data string too short");
}

static int struct_unpack(lua_State *L) {
    const char *format = luaL_checkstring(L, 1);
    size_t data_length;
    const char *data = luaL_checklstring(L, 2, &data_length);
    size_t position = (size_t)luaL_optinteger(L, 3, 1);
    luaL_argcheck(L, position > 0, 3, "offset must be 1 or greater");
    position--;
    format_state state;
    format_state_init(&state);
    int results = 0;
    while (*format != '\0') {
        int option = (unsigned char)*format++;
        size_t size = option_size(L, option, &format);
        position += padding_before(position, &state, option, size);
        check_data_left(L, data_length, position, size);
        luaL_checkstack(L, 2, "too many results");
        switch (option) {
        case 'b': case 'B': case 'h': case 'H': case 'l': case 'L': case 'T': case 'i': case 'I':
            lua_pushnumber(L, unpack_integer(data + position, state.little_endian, islower(option), size));
            results++;
            break;
        case 'x':
            break;
        case 'f': case 'd':
            lua_pushnumber(L, unpack_floating(data + position, state.little_endian, size));
            results++;
            break;
        case 'c':
            if (size == 0) {
                if (results == 0 || !lua_isnumber(L, -1)) luaL_error(L, "format 'c0' needs a previous size");
                /* Converted as Redis's build converts it: a huge number can become 0. */
                size = truncate_to_unsigned_long(lua_tonumber(L, -1));
                lua_pop(L, 1);
                results--;
                check_data_left(L, data_length, position, size);
            }
            lua_pushlstring(L, data + position, size);
            results++;
            break;
        case 's': {
            const char *end = memchr(data + position, '\0', data_length - position);
            if (end == NULL) luaL_error(L, "unfinished string in data");
            size = (size_t)(end - (data + position)) + 1;
            lua_pushlstring(L, data + position, size - 1);
            results++;
            break;
        }
        default:
            apply_control_option(L, option, &format, &state);
        }
        position += size;
    }
    lua_pushinteger(L, (lua_Integer)(position + 1));
    return results + 1;
}

static int struct_size(lua_State *L) {
    const char *format = luaL_checkstring(L, 1);
    format_state state;
    format_state_init(&state);
    size_t offset = 0;
    while (*format != '\0') {
        int option = (unsigned char)*format++;
        size_t size = option_size(L, option, &format);
        offset += padding_before(offset, &state, option, size);
        if (option == 's') luaL_argerror(L, 1, "option 's' has no fixed size");
        if (option == 'c' && size == 0) luaL_argerror(L, 1, "option 'c0' has no fixed size");
        /* Letters without a size (unknown ones included) count as nothing here. */
        if (!isalnum(option)) apply_control_option(L, option, &format, &state);
        offset += size;
    }
    lua_pushinteger(L, (lua_Integer)offset);
    return 1;
}

int swiftlet_open_struct(lua_State *L) {
    static const luaL_Reg functions[] = {
        {"pack", struct_pack},
        {"unpack", struct_unpack},
        {"size", struct_size},
        {NULL, NULL},
    };
    luaL_register(L, "struct", functions);
    return 1;
}
