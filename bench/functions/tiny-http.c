/* A minimal keep-alive HTTP/1.1 server for bench/invoke: answers every request with "OK", on port 8080, one
 * epoll loop on one thread. With BURN_US=N it spins the CPU for N microseconds per request first, like a small
 * real handler; with SLEEP_US=N it sleeps that long instead (a slow function that takes no CPU from the rest of the
 * bench). Built static (no libc needed in the image); not shipped. */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BUFFER 65536

struct connection {
    int fd;
    size_t used;
    char data[BUFFER];
};

static long burn_us;
static long sleep_us;

static void burn(void) {
    if (sleep_us > 0) {
        struct timespec pause = {.tv_sec = sleep_us / 1000000L, .tv_nsec = (sleep_us % 1000000L) * 1000L};
        while (nanosleep(&pause, &pause) != 0 && errno == EINTR) {
        }
    }
    if (burn_us <= 0) return;
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    do {
        clock_gettime(CLOCK_MONOTONIC, &now);
    } while ((now.tv_sec - start.tv_sec) * 1000000L + (now.tv_nsec - start.tv_nsec) / 1000L < burn_us);
}

/* Answers every complete request in the buffer; returns -1 when the connection must close. */
static int serve(struct connection *c) {
    static const char answer[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nOK";
    size_t offset = 0;
    for (;;) {
        char *end = memmem(c->data + offset, c->used - offset, "\r\n\r\n", 4);
        if (!end) break;
        size_t head = (size_t)(end - (c->data + offset)) + 4;
        size_t body = 0;
        char *length = memmem(c->data + offset, head, "Content-Length:", 15);
        if (!length) length = memmem(c->data + offset, head, "content-length:", 15);
        if (length) body = (size_t)strtoul(length + 15, NULL, 10);
        if (c->used - offset < head + body) break;
        offset += head + body;
        burn();
        if (write(c->fd, answer, sizeof answer - 1) != (ssize_t)(sizeof answer - 1)) return -1;
    }
    memmove(c->data, c->data + offset, c->used - offset);
    c->used -= offset;
    return c->used == BUFFER ? -1 : 0;
}

int main(void) {
    const char *burn_text = getenv("BURN_US");
    burn_us = burn_text ? atol(burn_text) : 0;
    const char *sleep_text = getenv("SLEEP_US");
    sleep_us = sleep_text ? atol(sleep_text) : 0;
    int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons(8080), .sin_addr.s_addr = INADDR_ANY};
    if (bind(listener, (struct sockaddr *)&address, sizeof address) != 0 || listen(listener, 1024) != 0) return 1;
    int epoll = epoll_create1(0);
    struct epoll_event event = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(epoll, EPOLL_CTL_ADD, listener, &event);
    struct epoll_event events[64];
    for (;;) {
        int ready = epoll_wait(epoll, events, 64, -1);
        for (int i = 0; i < ready; i++) {
            struct connection *c = events[i].data.ptr;
            if (!c) {
                int fd;
                while ((fd = accept4(listener, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    struct connection *fresh = calloc(1, sizeof *fresh);
                    fresh->fd = fd;
                    struct epoll_event add = {.events = EPOLLIN, .data.ptr = fresh};
                    epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &add);
                }
                continue;
            }
            ssize_t n = read(c->fd, c->data + c->used, BUFFER - c->used);
            if (n > 0) c->used += (size_t)n;
            if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR) || (n > 0 && serve(c) < 0)) {
                close(c->fd);
                free(c);
            }
        }
    }
}
