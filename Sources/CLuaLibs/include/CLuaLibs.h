// The extra libraries Redis 7.0's scripting puts in every script's global table besides
// Lua's own: cjson and bit (Debian's lua-cjson and lua-bitop), cmsgpack and struct (ours);
// and the states scripts run in, with an allocator that reuses small blocks (allocator.c).
// lua_State stays an incomplete type here so Swift sees the same OpaquePointer as CLua's.
#ifndef SWIFTLET_CLUALIBS_H
#define SWIFTLET_CLUALIBS_H

struct lua_State;

/* Opens cjson, cmsgpack, bit and struct into L's globals, as Redis's scripting does. */
void swiftlet_lua_open_extra_libraries(struct lua_State *L);

/* A new Lua state whose small blocks are cached for reuse (NULL when out of memory). */
struct lua_State *swiftlet_lua_newstate(void);

/* Closes a state made by swiftlet_lua_newstate, and frees its cached blocks. */
void swiftlet_lua_close(struct lua_State *L);

#endif
