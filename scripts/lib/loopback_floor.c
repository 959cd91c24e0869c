/* A RESP responder that does no work, for scripts/bench: it shows how many requests per
 * CPU-second the kernel's loopback TCP path alone allows, the ceiling any server's ratio to
 * redis-server can reach at a given pipeline depth.
 *
 * It runs one epoll loop the way redis-server and swiftlet-server do (read each ready
 * connection, write the replies after the pass) and answers every request with "+OK".
 * Requests are counted, not parsed: a line that starts with '*' starts one, which holds for
 * redis-benchmark's traffic and nothing else. Sockets block (epoll says when a read will
 * not), so a write never leaves replies behind.
 *
 * Usage: loopback_floor PORT */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

enum { MAX_EVENTS = 1024, REPLIES_PER_WRITE = 1024 };

static const char reply[] = "+OK\r\n";

/* Requests that start in `bytes`; `at_line_start` carries over between reads. */
static int count_requests(const char *bytes, ssize_t length, int *at_line_start) {
    int requests = 0;
    for (ssize_t i = 0; i < length; i++) {
        if (*at_line_start && bytes[i] == '*') requests++;
        *at_line_start = bytes[i] == '\n';
    }
    return requests;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s PORT\n", argv[0]);
        return 2;
    }
    int one = 1;
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[1])),
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (bind(listener, (struct sockaddr *)&address, sizeof address) < 0 || listen(listener, 511) < 0) {
        perror("loopback_floor");
        return 1;
    }
    int poller = epoll_create1(0);
    struct epoll_event event = {.events = EPOLLIN, .data.fd = listener};
    epoll_ctl(poller, EPOLL_CTL_ADD, listener, &event);

    static char input[64 * 1024];
    static char output[REPLIES_PER_WRITE * (sizeof reply - 1)];
    static int at_line_start[65536];
    static int pending[65536];
    struct epoll_event ready[MAX_EVENTS];
    int answered[MAX_EVENTS];
    for (size_t i = 0; i < sizeof output; i += sizeof reply - 1) memcpy(output + i, reply, sizeof reply - 1);

    for (;;) {
        int count = epoll_wait(poller, ready, MAX_EVENTS, -1);
        int answering = 0;
        for (int i = 0; i < count; i++) {
            int fd = ready[i].data.fd;
            if (fd == listener) {
                int client = accept(listener, NULL, NULL);
                if (client < 0 || client >= 65536) {
                    if (client >= 0) close(client);
                    continue;
                }
                setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                at_line_start[client] = 1;
                pending[client] = 0;
                struct epoll_event readable = {.events = EPOLLIN, .data.fd = client};
                epoll_ctl(poller, EPOLL_CTL_ADD, client, &readable);
                continue;
            }
            ssize_t length = read(fd, input, sizeof input);
            if (length <= 0) {
                close(fd);
                continue;
            }
            int requests = count_requests(input, length, &at_line_start[fd]);
            if (requests > 0 && pending[fd] == 0) answered[answering++] = fd;
            pending[fd] += requests;
        }
        for (int i = 0; i < answering; i++) {
            int fd = answered[i];
            while (pending[fd] > 0) {
                int batch = pending[fd] < REPLIES_PER_WRITE ? pending[fd] : REPLIES_PER_WRITE;
                if (write(fd, output, batch * (sizeof reply - 1)) < 0) break;
                pending[fd] -= batch;
            }
            pending[fd] = 0;
        }
    }
}
