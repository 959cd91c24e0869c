/* The event loop the C reference servers of scripts/bench (loopback_floor.c, minimal_kv.c)
 * share, shaped like redis-server's and swiftlet-server's: one epoll instance on a listener
 * on 127.0.0.1, clients accepted with TCP_NODELAY, each ready client read once per pass, and
 * the replies of the pass written after it. */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

enum { MAX_DESCRIPTORS = 65536, MAX_EVENTS = 1024 };

/* Listens on `port` and returns the epoll instance watching the listener (in *listener);
 * exits with a message naming `program` when the port cannot be had. */
static int open_loopback_poller(const char *port, const char *program, int *listener) {
    int one = 1;
    *listener = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(*listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons(atoi(port)),
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (bind(*listener, (struct sockaddr *)&address, sizeof address) < 0 || listen(*listener, 511) < 0) {
        perror(program);
        exit(1);
    }
    int poller = epoll_create1(0);
    struct epoll_event event = {.events = EPOLLIN, .data.fd = *listener};
    epoll_ctl(poller, EPOLL_CTL_ADD, *listener, &event);
    return poller;
}

/* Accepts a client and watches it for input; -1 when none could be taken (or its descriptor
 * is past MAX_DESCRIPTORS, the size of the servers' per-descriptor tables). */
static int accept_client(int poller, int listener) {
    int one = 1;
    int client = accept(listener, NULL, NULL);
    if (client < 0 || client >= MAX_DESCRIPTORS) {
        if (client >= 0) close(client);
        return -1;
    }
    setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct epoll_event readable = {.events = EPOLLIN, .data.fd = client};
    epoll_ctl(poller, EPOLL_CTL_ADD, client, &readable);
    return client;
}

/* Runs the loop on the port in argv[1] until killed: `accepted` prepares a new client,
 * `readable` reads a ready one (true when it now has replies to write), `write_replies`
 * writes them once the pass is over. Returns only on bad usage. */
static int serve(int argc, char **argv, const char *program, void (*accepted)(int client),
                 int (*readable)(int client), void (*write_replies)(int client)) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s PORT\n", argv[0]);
        return 2;
    }
    int listener;
    int poller = open_loopback_poller(argv[1], program, &listener);
    struct epoll_event ready[MAX_EVENTS];
    int answered[MAX_EVENTS];
    for (;;) {
        int count = epoll_wait(poller, ready, MAX_EVENTS, -1), answering = 0;
        for (int i = 0; i < count; i++) {
            int fd = ready[i].data.fd;
            if (fd != listener) {
                if (readable(fd)) answered[answering++] = fd;
                continue;
            }
            int client = accept_client(poller, listener);
            if (client >= 0) accepted(client);
        }
        for (int i = 0; i < answering; i++) write_replies(answered[i]);
    }
}
