// The extra libraries Redis 7.0's scripting puts in every script's global table besides
// Lua's own: cjson and bit (Debian's lua-cjson and lua-bitop), cmsgpack and struct (ours).
// lua_State stays an incomplete type here so Swift sees the same OpaquePointer as CLua's.
#ifndef SWIFTLET_CLUALIBS_H
#define SWIFTLET_CLUALIBS_H

struct lua_State;

/* Opens cjson, cmsgpack, bit and struct into L's globals, as Redis's scripting does. */
void swiftlet_lua_open_extra_libraries(struct lua_State *L);

#endif
