// Lua's allocator for the scripting states. Lua frees and allocates the same small blocks
// over and over (every run makes its KEYS and ARGV tables, the strings of its arguments and
// of the replies of redis.call): blocks up to 256 bytes, in classes of 16 bytes, go on a
// free list of their state when Lua frees them and are handed out again, so a run's small
// objects no longer cost a malloc and a free each (glibc's small-block paths were about 9%
// of the instructions of an EVALSHA). Each list keeps at most 4096 blocks; larger blocks go
// to malloc, realloc and free. A state and its lists are used by one thread at a time.
#include "CLuaLibs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <lua5.1/lua.h>

enum { class_granularity = 16, class_count = 16, cached_limit = 4096 };

struct free_block { struct free_block *next; };

struct block_cache {
    struct free_block *free[class_count];
    unsigned cached[class_count];
};

/* The class of a block of `size` bytes, or -1 for sizes the cache leaves to malloc. */
static int class_of(size_t size) {
    if (size == 0 || size > (size_t)class_granularity * class_count) return -1;
    return (int)((size - 1) / class_granularity);
}

static void *take(struct block_cache *cache, int class) {
    struct free_block *block = cache->free[class];
    if (block == NULL) return malloc((size_t)(class + 1) * class_granularity);
    cache->free[class] = block->next;
    cache->cached[class]--;
    return block;
}

static void give_back(struct block_cache *cache, void *pointer, size_t size) {
    int class = class_of(size);
    if (class < 0 || cache->cached[class] >= cached_limit) {
        free(pointer);
        return;
    }
    struct free_block *block = pointer;
    block->next = cache->free[class];
    cache->free[class] = block;
    cache->cached[class]++;
}

/* lua_Alloc: nsize 0 frees; otherwise allocates (ptr NULL) or resizes ptr from osize. */
static void *allocate(void *ud, void *ptr, size_t osize, size_t nsize) {
    struct block_cache *cache = ud;
    if (nsize == 0) {
        if (ptr != NULL) give_back(cache, ptr, osize);
        return NULL;
    }
    int wanted = class_of(nsize);
    if (ptr == NULL) return wanted >= 0 ? take(cache, wanted) : malloc(nsize);
    int current = class_of(osize);
    if (current == wanted && wanted >= 0) return ptr;
    if (current < 0 && wanted < 0) return realloc(ptr, nsize);
    void *moved = wanted >= 0 ? take(cache, wanted) : malloc(nsize);
    if (moved == NULL) return NULL;
    memcpy(moved, ptr, osize < nsize ? osize : nsize);
    give_back(cache, ptr, osize);
    return moved;
}

static int panic(lua_State *L) {
    fprintf(stderr, "PANIC: unprotected error in call to Lua API (%s)\n", lua_tostring(L, -1));
    return 0;
}

lua_State *swiftlet_lua_newstate(void) {
    struct block_cache *cache = calloc(1, sizeof *cache);
    if (cache == NULL) return NULL;
    lua_State *L = lua_newstate(allocate, cache);
    if (L == NULL) {
        free(cache);
        return NULL;
    }
    lua_atpanic(L, panic);
    return L;
}

void swiftlet_lua_close(lua_State *L) {
    void *ud = NULL;
    lua_getallocf(L, &ud);
    lua_close(L);
    struct block_cache *cache = ud;
    for (int class = 0; class < class_count; class++) {
        while (cache->free[class] != NULL) {
            struct free_block *block = cache->free[class];
            cache->free[class] = block->next;
            free(block);
        }
    }
    free(cache);
}
