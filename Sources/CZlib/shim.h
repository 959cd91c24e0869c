// Umbrella header for the system zlib (Debian's zlib1g-dev): value compression of large
// strings uses its one-shot compress2/uncompress calls.
#ifndef SWIFTLET_CZLIB_SHIM_H
#define SWIFTLET_CZLIB_SHIM_H
#include <zlib.h>
#endif
