// glibc interfaces that Swift's Glibc module does not export: allocation sizes for memory
// accounting, getrandom for hash seeds and run ids, mallinfo2 for INFO memory.
#ifndef SWIFTLET_CSYSTEM_SHIM_H
#define SWIFTLET_CSYSTEM_SHIM_H
#include <malloc.h>
#include <sys/random.h>
#include <sys/sysinfo.h>
#endif
