// Umbrella header for the system libevent. The POSIX headers must come first: libevent's
// headers use their types without including them, and a clean build fails at random otherwise.
#ifndef SWIFTLET_CLIBEVENT_SHIM_H
#define SWIFTLET_CLIBEVENT_SHIM_H
#include <sys/types.h>
#include <sys/select.h>
#include <sys/time.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/eventfd.h>
#include <sys/un.h>
#include <arpa/inet.h>
#include <event2/event.h>
#endif
