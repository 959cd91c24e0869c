/* A key-value server reduced to the work no RESP server can skip, for scripts/bench: parse
 * each request, find its key in a hash table, change or read the value, write the reply. It
 * keeps no expiry, types, statistics, eviction state, locks or client state beyond buffers,
 * so its ops per CPU-second are the best any real server can reach on this machine; its ratio
 * to redis-server bounds what a server that also does that bookkeeping can reach.
 *
 * The epoll loop is loopback_floor.c's (loopback_server.h). Commands: GET, SET key value,
 * INCR, MSET and PING, the ones scripts/bench sends; anything else gets an error. Values are
 * byte strings; INCR keeps its result as decimal text. The table is chained, keys and values
 * stored inline in one allocation per entry, and doubles in one step when it holds as many
 * keys as buckets.
 *
 * Usage: minimal_kv PORT */
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "loopback_server.h"

enum { MAX_ARGUMENTS = 64, INPUT_SIZE = 1 << 20 };

typedef struct Entry {
    struct Entry *next;
    uint64_t hash;
    uint32_t key_length, value_length;
    char bytes[]; /* key, then value */
} Entry;

static Entry **buckets;
static size_t bucket_mask, entry_count;

static uint64_t hash_bytes(const char *bytes, size_t length) {
    uint64_t hash = 14695981039346656037ull;
    for (size_t i = 0; i < length; i++) hash = (hash ^ (unsigned char)bytes[i]) * 1099511628211ull;
    return hash ^ (hash >> 32);
}

/* The link that points at the entry for `key`, or the empty link at the end of its chain. */
static Entry **find(const char *key, size_t length, uint64_t hash) {
    Entry **link = &buckets[hash & bucket_mask];
    while (*link && !((*link)->hash == hash && (*link)->key_length == length &&
                      memcmp((*link)->bytes, key, length) == 0))
        link = &(*link)->next;
    return link;
}

static void grow(void) {
    size_t size = (bucket_mask + 1) * 2;
    Entry **grown = calloc(size, sizeof *grown);
    for (size_t i = 0; i <= bucket_mask; i++) {
        for (Entry *entry = buckets[i], *next; entry; entry = next) {
            next = entry->next;
            entry->next = grown[entry->hash & (size - 1)];
            grown[entry->hash & (size - 1)] = entry;
        }
    }
    free(buckets);
    buckets = grown;
    bucket_mask = size - 1;
}

static void store(const char *key, size_t key_length, const char *value, size_t value_length) {
    uint64_t hash = hash_bytes(key, key_length);
    Entry **link = find(key, key_length, hash);
    Entry *entry = malloc(sizeof *entry + key_length + value_length);
    entry->hash = hash;
    entry->key_length = key_length;
    entry->value_length = value_length;
    memcpy(entry->bytes, key, key_length);
    memcpy(entry->bytes + key_length, value, value_length);
    if (*link) {
        entry->next = (*link)->next;
        free(*link);
        *link = entry;
        return;
    }
    entry->next = NULL;
    *link = entry;
    if (++entry_count > bucket_mask) grow();
}

typedef struct {
    char *input;
    size_t input_length;
    char *output;
    size_t output_length, output_capacity;
} Connection;

static Connection *connections[MAX_DESCRIPTORS];

static void reply(Connection *connection, const char *bytes, size_t length) {
    if (connection->output_length + length > connection->output_capacity) {
        connection->output_capacity = (connection->output_length + length) * 2;
        connection->output = realloc(connection->output, connection->output_capacity);
    }
    memcpy(connection->output + connection->output_length, bytes, length);
    connection->output_length += length;
}

/* The number after a type byte up to CRLF, with *next set past the CRLF; -1 when the line is
 * not all there yet. */
static long line_number(const char *at, const char *end, const char **next) {
    long value = 0;
    for (at++; at < end && *at != '\r'; at++) value = value * 10 + (*at - '0');
    if (end - at < 2) return -1;
    *next = at + 2;
    return value;
}

static void execute(Connection *connection, int count, const char **argument, const long *length) {
    char text[64];
    #define IS(name) (length[0] == sizeof name - 1 && strncasecmp(argument[0], name, sizeof name - 1) == 0)
    if (IS("GET") && count == 2) {
        Entry *entry = *find(argument[1], length[1], hash_bytes(argument[1], length[1]));
        if (!entry) return reply(connection, "$-1\r\n", 5);
        reply(connection, text, snprintf(text, sizeof text, "$%u\r\n", entry->value_length));
        reply(connection, entry->bytes + entry->key_length, entry->value_length);
        reply(connection, "\r\n", 2);
    } else if (IS("SET") && count == 3) {
        store(argument[1], length[1], argument[2], length[2]);
        reply(connection, "+OK\r\n", 5);
    } else if (IS("MSET") && count % 2 == 1 && count > 1) {
        for (int i = 1; i < count; i += 2) store(argument[i], length[i], argument[i + 1], length[i + 1]);
        reply(connection, "+OK\r\n", 5);
    } else if (IS("INCR") && count == 2) {
        Entry *entry = *find(argument[1], length[1], hash_bytes(argument[1], length[1]));
        long long value = 0;
        if (entry) {
            char *end;
            int digits = snprintf(text, sizeof text, "%.*s", (int)entry->value_length, entry->bytes + entry->key_length);
            value = strtoll(text, &end, 10);
            if (digits == 0 || *end) return reply(connection, "-ERR value is not an integer\r\n", 30);
        }
        int digits = snprintf(text, sizeof text, "%lld", value + 1);
        store(argument[1], length[1], text, digits);
        reply(connection, ":", 1);
        reply(connection, text, digits);
        reply(connection, "\r\n", 2);
    } else if (IS("PING")) {
        reply(connection, "+PONG\r\n", 7);
    } else {
        reply(connection, "-ERR unknown command\r\n", 22);
    }
    #undef IS
}

/* Runs every complete request in the input buffer; returns the bytes they took. */
static size_t run_requests(Connection *connection) {
    const char *at = connection->input, *end = at + connection->input_length, *next;
    while (at < end) {
        const char *argument[MAX_ARGUMENTS];
        long length[MAX_ARGUMENTS];
        long count = line_number(at, end, &next);
        if (count < 0) break;
        if (*at != '*' || count < 1 || count > MAX_ARGUMENTS) return connection->input_length;
        int complete = 1;
        for (long i = 0; i < count && complete; i++) {
            length[i] = next < end ? line_number(next, end, &next) : -1;
            complete = length[i] >= 0 && end - next >= length[i] + 2;
            if (complete) {
                argument[i] = next;
                next += length[i] + 2;
            }
        }
        if (!complete) break;
        execute(connection, count, argument, length);
        at = next;
    }
    return at - connection->input;
}

static void accepted(int client) {
    connections[client] = calloc(1, sizeof(Connection));
    connections[client]->input = malloc(INPUT_SIZE);
}

static int readable(int client) {
    Connection *connection = connections[client];
    ssize_t length = read(client, connection->input + connection->input_length, INPUT_SIZE - connection->input_length);
    if (length <= 0) {
        close(client);
        free(connection->input);
        free(connection->output);
        free(connection);
        connections[client] = NULL;
        return 0;
    }
    connection->input_length += length;
    size_t used = run_requests(connection);
    memmove(connection->input, connection->input + used, connection->input_length - used);
    connection->input_length -= used;
    return connection->output_length > 0;
}

static void write_replies(int client) {
    Connection *connection = connections[client];
    size_t written = 0;
    while (written < connection->output_length) {
        ssize_t sent = write(client, connection->output + written, connection->output_length - written);
        if (sent <= 0) break;
        written += sent;
    }
    connection->output_length = 0;
}

int main(int argc, char **argv) {
    bucket_mask = 1023;
    buckets = calloc(bucket_mask + 1, sizeof *buckets);
    return serve(argc, argv, "minimal_kv", accepted, readable, write_replies);
}
