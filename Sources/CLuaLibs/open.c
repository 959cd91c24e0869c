// Opens Redis's four extra script libraries as globals. Each opener runs as a called
// function, as Redis loads its libraries, so an opener's own stack use stays its own.
#include "CLuaLibs.h"
#include "libraries.h"

#include <lua5.1/lauxlib.h>
#include <lua5.1/lua-bitop.h>

static void open_as_global(lua_State *L, const char *name, lua_CFunction opener) {
    lua_pushcfunction(L, opener);
    lua_call(L, 0, 1);
    lua_setglobal(L, name);
}

void swiftlet_lua_open_extra_libraries(lua_State *L) {
    open_as_global(L, "cjson", swiftlet_open_cjson);
    open_as_global(L, "struct", swiftlet_open_struct);
    open_as_global(L, "cmsgpack", swiftlet_open_cmsgpack);
    open_as_global(L, "bit", luaopen_bit);
}
