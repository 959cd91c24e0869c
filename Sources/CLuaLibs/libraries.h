// Openers of the libraries this target implements itself; each leaves its module table on
// the stack and returns 1, like any lua_CFunction opener.
#ifndef SWIFTLET_CLUALIBS_LIBRARIES_H
#define SWIFTLET_CLUALIBS_LIBRARIES_H

#include <lua5.1/lua.h>

int swiftlet_open_cmsgpack(lua_State *L);
int swiftlet_open_struct(lua_State *L);
int swiftlet_open_cjson(lua_State *L);

#endif
