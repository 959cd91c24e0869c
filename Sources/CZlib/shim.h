// Umbrella header for the system zlib (Debian's zlib1g-dev), used by value compression.
// deflateInit2/inflateInit2 are macros, which Swift cannot call: these wrappers can.
#ifndef SWIFTLET_CZLIB_SHIM_H
#define SWIFTLET_CZLIB_SHIM_H
#include <zlib.h>

static inline int swiftlet_deflate_init(z_streamp stream, int level, int window_bits) {
    return deflateInit2(stream, level, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY);
}

static inline int swiftlet_inflate_init(z_streamp stream, int window_bits) {
    return inflateInit2(stream, window_bits);
}
#endif
