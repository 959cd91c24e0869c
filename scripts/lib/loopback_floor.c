/* A RESP responder that does no work, for scripts/bench: it shows how many requests per
 * CPU-second the kernel's loopback TCP path alone allows, the ceiling any server's ratio to
 * redis-server can reach at a given pipeline depth.
 *
 * It runs loopback_server.h's epoll loop, shaped like redis-server's and swiftlet-server's,
 * and answers every request with "+OK".
 * Requests are counted, not parsed: a line that starts with '*' starts one, which holds for
 * redis-benchmark's traffic and nothing else. Sockets block (epoll says when a read will
 * not), so a write never leaves replies behind.
 *
 * Usage: loopback_floor PORT */
#include <string.h>

#include "loopback_server.h"

enum { REPLIES_PER_WRITE = 1024 };

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

static char input[64 * 1024];
static char output[REPLIES_PER_WRITE * (sizeof reply - 1)];
static int at_line_start[MAX_DESCRIPTORS];
static int pending[MAX_DESCRIPTORS];

static void accepted(int client) {
    at_line_start[client] = 1;
    pending[client] = 0;
}

static int readable(int client) {
    ssize_t length = read(client, input, sizeof input);
    if (length <= 0) {
        close(client);
        return 0;
    }
    pending[client] += count_requests(input, length, &at_line_start[client]);
    return pending[client] > 0;
}

static void write_replies(int client) {
    while (pending[client] > 0) {
        int batch = pending[client] < REPLIES_PER_WRITE ? pending[client] : REPLIES_PER_WRITE;
        if (write(client, output, batch * (sizeof reply - 1)) < 0) break;
        pending[client] -= batch;
    }
    pending[client] = 0;
}

int main(int argc, char **argv) {
    for (size_t i = 0; i < sizeof output; i += sizeof reply - 1) memcpy(output + i, reply, sizeof reply - 1);
    return serve(argc, argv, "loopback_floor", accepted, readable, write_replies);
}
