/*
 * A deliberately fast Thrift "Echo" server for benchmarks/bench_client.py.
 *
 * Every client in the benchmark talks to this one server, so that the numbers
 * compare client-side cost, not the speed of a Python server. It speaks the wire
 * formats of fixtures/services/echo.thrift well enough for the benchmark: binary
 * or compact, unframed, framed or THeader (detected per connection, as Apache's
 * THeader server does). It answers every call with a REPLY carrying the first
 * string/binary argument as the result (echo, echo_bytes) or no result (ping).
 *
 * Build: cc -O2 -pthread -o echo_server echo_server.c
 * Run:   ./echo_server PORT     (prints "LISTENING <port>" once ready; 0 = any port)
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum { UNFRAMED_BINARY, UNFRAMED_COMPACT, FRAMED_BINARY, FRAMED_COMPACT, HEADER };

typedef struct {
    unsigned char *data;
    size_t len, cap;
} buf_t;

static void buf_reserve(buf_t *b, size_t extra) {
    if (b->len + extra <= b->cap) return;
    size_t cap = b->cap ? b->cap : 65536;
    while (cap < b->len + extra) cap *= 2;
    b->data = realloc(b->data, cap);
    if (!b->data) abort();
    b->cap = cap;
}

static void buf_put(buf_t *b, const void *p, size_t n) {
    buf_reserve(b, n);
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

static void put_u32(buf_t *b, uint32_t v) {
    uint32_t n = htonl(v);
    buf_put(b, &n, 4);
}

static void put_u16(buf_t *b, uint16_t v) {
    uint16_t n = htons(v);
    buf_put(b, &n, 2);
}

static void put_varint(buf_t *b, uint64_t v) {
    unsigned char tmp[10];
    int i = 0;
    while (v >= 0x80) {
        tmp[i++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    tmp[i++] = (unsigned char)v;
    buf_put(b, tmp, i);
}

static uint32_t get_u32(const unsigned char *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* Returns the new position, -1 if more bytes are needed, -2 on bad input. */
static long get_varint(const unsigned char *p, size_t len, size_t pos, uint64_t *out) {
    uint64_t v = 0;
    int shift = 0;
    while (pos < len) {
        unsigned char c = p[pos++];
        v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            *out = v;
            return (long)pos;
        }
        shift += 7;
        if (shift > 63) return -2;
    }
    return -1;
}

/* A parsed call: name, seqid (raw bytes for compact), first string argument. */
typedef struct {
    const unsigned char *name;
    size_t name_len;
    uint32_t seqid;
    const unsigned char *arg;
    size_t arg_len;
    int has_arg;
    size_t end; /* offset just past the message */
} call_t;

/* Skips a binary-protocol value of type t. */
static long skip_binary(const unsigned char *p, size_t len, size_t pos, int t, int depth) {
    if (depth > 32) return -2;
    switch (t) {
    case 2: case 3: return pos + 1 <= len ? (long)(pos + 1) : -1;
    case 6: return pos + 2 <= len ? (long)(pos + 2) : -1;
    case 8: return pos + 4 <= len ? (long)(pos + 4) : -1;
    case 4: case 10: return pos + 8 <= len ? (long)(pos + 8) : -1;
    case 11: {
        if (pos + 4 > len) return -1;
        size_t n = get_u32(p + pos);
        return pos + 4 + n <= len ? (long)(pos + 4 + n) : -1;
    }
    case 12:
        for (;;) {
            if (pos + 1 > len) return -1;
            int ft = p[pos++];
            if (ft == 0) return (long)pos;
            if (pos + 2 > len) return -1;
            pos += 2;
            long r = skip_binary(p, len, pos, ft, depth + 1);
            if (r < 0) return r;
            pos = (size_t)r;
        }
    default: return -2; /* containers are not used by the benchmark */
    }
}

static long parse_binary(const unsigned char *p, size_t len, call_t *c) {
    if (len < 8) return -1;
    if (p[0] != 0x80 || p[1] != 0x01) return -2;
    size_t n = get_u32(p + 4);
    if (8 + n + 4 > len) return -1;
    c->name = p + 8;
    c->name_len = n;
    c->seqid = get_u32(p + 8 + n);
    size_t pos = 8 + n + 4;
    c->has_arg = 0;
    for (;;) {
        if (pos + 1 > len) return -1;
        int ft = p[pos++];
        if (ft == 0) break;
        if (pos + 2 > len) return -1;
        pos += 2;
        if (ft == 11 && !c->has_arg) {
            if (pos + 4 > len) return -1;
            size_t sz = get_u32(p + pos);
            if (pos + 4 + sz > len) return -1;
            c->arg = p + pos + 4;
            c->arg_len = sz;
            c->has_arg = 1;
        }
        long r = skip_binary(p, len, pos, ft, 0);
        if (r < 0) return r;
        pos = (size_t)r;
    }
    c->end = pos;
    return (long)pos;
}

static long skip_compact(const unsigned char *p, size_t len, size_t pos, int t, int depth) {
    uint64_t v;
    if (depth > 32) return -2;
    switch (t) {
    case 1: case 2: return (long)pos; /* booleans live in the field header */
    case 3: return pos + 1 <= len ? (long)(pos + 1) : -1;
    case 4: case 5: case 6: return get_varint(p, len, pos, &v);
    case 7: return pos + 8 <= len ? (long)(pos + 8) : -1;
    case 8: {
        long r = get_varint(p, len, pos, &v);
        if (r < 0) return r;
        return (size_t)r + v <= len ? (long)((size_t)r + v) : -1;
    }
    case 12:
        for (;;) {
            if (pos + 1 > len) return -1;
            int h = p[pos++];
            if (h == 0) return (long)pos;
            if ((h >> 4) == 0) {
                long r = get_varint(p, len, pos, &v);
                if (r < 0) return r;
                pos = (size_t)r;
            }
            long r = skip_compact(p, len, pos, h & 0x0f, depth + 1);
            if (r < 0) return r;
            pos = (size_t)r;
        }
    default: return -2;
    }
}

static long parse_compact(const unsigned char *p, size_t len, call_t *c) {
    uint64_t v;
    if (len < 2) return -1;
    if (p[0] != 0x82) return -2;
    long r = get_varint(p, len, 2, &v);
    if (r < 0) return r;
    c->seqid = (uint32_t)v;
    r = get_varint(p, len, (size_t)r, &v);
    if (r < 0) return r;
    if ((size_t)r + v > len) return -1;
    c->name = p + r;
    c->name_len = v;
    size_t pos = (size_t)r + v;
    c->has_arg = 0;
    for (;;) {
        if (pos + 1 > len) return -1;
        int h = p[pos++];
        if (h == 0) break;
        if ((h >> 4) == 0) {
            r = get_varint(p, len, pos, &v);
            if (r < 0) return r;
            pos = (size_t)r;
        }
        int t = h & 0x0f;
        if (t == 8 && !c->has_arg) {
            r = get_varint(p, len, pos, &v);
            if (r < 0) return r;
            if ((size_t)r + v > len) return -1;
            c->arg = p + r;
            c->arg_len = v;
            c->has_arg = 1;
        }
        r = skip_compact(p, len, pos, t, 0);
        if (r < 0) return r;
        pos = (size_t)r;
    }
    c->end = pos;
    return (long)pos;
}

static int is_void(const call_t *c) {
    return !(c->name_len >= 4 && memcmp(c->name, "echo", 4) == 0);
}

static void reply_binary(buf_t *out, const call_t *c) {
    put_u32(out, 0x80010002u);
    put_u32(out, (uint32_t)c->name_len);
    buf_put(out, c->name, c->name_len);
    put_u32(out, c->seqid);
    if (!is_void(c) && c->has_arg) {
        unsigned char fh[3] = {11, 0, 0};
        buf_put(out, fh, 3);
        put_u32(out, (uint32_t)c->arg_len);
        buf_put(out, c->arg, c->arg_len);
    }
    unsigned char stop = 0;
    buf_put(out, &stop, 1);
}

static void reply_compact(buf_t *out, const call_t *c) {
    unsigned char head[2] = {0x82, (2 << 5) | 1};
    buf_put(out, head, 2);
    put_varint(out, c->seqid);
    put_varint(out, c->name_len);
    buf_put(out, c->name, c->name_len);
    if (!is_void(c) && c->has_arg) {
        unsigned char fh[2] = {0x08, 0x00}; /* long form: binary, field id 0 */
        buf_put(out, fh, 2);
        put_varint(out, c->arg_len);
        buf_put(out, c->arg, c->arg_len);
    }
    unsigned char stop = 0;
    buf_put(out, &stop, 1);
}

static int write_all(int fd, const unsigned char *p, size_t n) {
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static void *serve(void *arg) {
    int fd = (int)(intptr_t)arg;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    buf_t in = {0}, out = {0}, body = {0};
    int mode = -1;
    for (;;) {
        buf_reserve(&in, 65536);
        ssize_t r = recv(fd, in.data + in.len, in.cap - in.len, 0);
        if (r <= 0) break;
        in.len += (size_t)r;
        size_t used = 0;
        out.len = 0;
        for (;;) {
            unsigned char *p = in.data + used;
            size_t len = in.len - used;
            if (len < 4) break;
            if (mode < 0) {
                if (p[0] == 0x80 && p[1] == 0x01) mode = UNFRAMED_BINARY;
                else if (p[0] == 0x82) mode = UNFRAMED_COMPACT;
                else if (len >= 6 && p[4] == 0x0f && p[5] == 0xff) mode = HEADER;
                else if (len >= 6 && p[4] == 0x80 && p[5] == 0x01) mode = FRAMED_BINARY;
                else if (len >= 6 && p[4] == 0x82) mode = FRAMED_COMPACT;
                else if (len < 6) break;
                else goto done;
            }
            call_t c;
            long end;
            if (mode == UNFRAMED_BINARY || mode == UNFRAMED_COMPACT) {
                end = mode == UNFRAMED_BINARY ? parse_binary(p, len, &c) : parse_compact(p, len, &c);
                if (end == -1) break;
                if (end < 0) goto done;
                if (mode == UNFRAMED_BINARY) reply_binary(&out, &c);
                else reply_compact(&out, &c);
                used += (size_t)end;
                continue;
            }
            size_t frame = get_u32(p);
            if (frame > 64 * 1024 * 1024) goto done;
            if (len < 4 + frame) break;
            const unsigned char *f = p + 4;
            if (mode == HEADER) {
                if (frame < 10) goto done;
                uint32_t hseq = get_u32(f + 4);
                size_t hlen = (size_t)((f[8] << 8) | f[9]) * 4;
                if (10 + hlen > frame) goto done;
                uint64_t proto;
                if (get_varint(f, 10 + hlen, 10, &proto) < 0) goto done;
                const unsigned char *payload = f + 10 + hlen;
                size_t plen = frame - 10 - hlen;
                end = proto == 2 ? parse_compact(payload, plen, &c) : parse_binary(payload, plen, &c);
                if (end < 0) goto done;
                body.len = 0;
                if (proto == 2) reply_compact(&body, &c);
                else reply_binary(&body, &c);
                unsigned char hdr[4] = {(unsigned char)proto, 0, 0, 0}; /* id, 0 transforms, pad */
                put_u32(&out, (uint32_t)(10 + 4 + body.len));
                put_u16(&out, 0x0fff);
                put_u16(&out, 0);
                put_u32(&out, hseq);
                put_u16(&out, 1);
                buf_put(&out, hdr, 4);
                buf_put(&out, body.data, body.len);
            } else {
                end = mode == FRAMED_BINARY ? parse_binary(f, frame, &c) : parse_compact(f, frame, &c);
                if (end < 0) goto done;
                body.len = 0;
                if (mode == FRAMED_BINARY) reply_binary(&body, &c);
                else reply_compact(&body, &c);
                put_u32(&out, (uint32_t)body.len);
                buf_put(&out, body.data, body.len);
            }
            used += 4 + frame;
        }
        if (out.len && write_all(fd, out.data, out.len) < 0) break;
        memmove(in.data, in.data + used, in.len - used);
        in.len -= used;
    }
done:
    close(fd);
    free(in.data);
    free(out.data);
    free(body.data);
    return NULL;
}

int main(int argc, char **argv) {
    int port = argc > 1 ? atoi(argv[1]) : 0;
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {0};
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(ls, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(ls, 128) < 0) {
        perror("bind/listen");
        return 1;
    }
    socklen_t alen = sizeof addr;
    getsockname(ls, (struct sockaddr *)&addr, &alen);
    printf("LISTENING %d\n", ntohs(addr.sin_port));
    fflush(stdout);
    for (;;) {
        int fd = accept(ls, NULL, NULL);
        if (fd < 0) continue;
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&t, &attr, serve, (void *)(intptr_t)fd) != 0) close(fd);
        pthread_attr_destroy(&attr);
    }
}
