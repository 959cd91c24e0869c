// Umbrella header for the system Lua 5.1 (Debian's liblua5.1-0-dev), used by scripting.
// Lua's API has function-like macros Swift cannot call; wrappers for them are added here
// as the scripting engine needs them.
#ifndef SWIFTLET_CLUA_SHIM_H
#define SWIFTLET_CLUA_SHIM_H
#include <lua5.1/lua.h>
#include <lua5.1/lualib.h>
#include <lua5.1/lauxlib.h>
#endif
