#ifndef SKIFF_CLINUX_H
#define SKIFF_CLINUX_H
// What Swift's Glibc module does not import: epoll, eventfd, accept4, pipe2, and the socket
// constants that Glibc imports as enums. Import CLinux in every file that uses these constants
// (a release build does not see them through another module). Calls that need _GNU_SOURCE live in
// shim.c, because defining it here would make this module disagree with Glibc's on struct layouts.
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static const int cl_SOCK_STREAM = SOCK_STREAM;
static const int cl_SOCK_DGRAM = SOCK_DGRAM;
static const int cl_SOCK_NONBLOCK = SOCK_NONBLOCK;
static const int cl_SOCK_CLOEXEC = SOCK_CLOEXEC;
static const int cl_EPOLL_CLOEXEC = EPOLL_CLOEXEC;
static const uint32_t cl_EPOLLIN = EPOLLIN;
static const uint32_t cl_EPOLLOUT = EPOLLOUT;
static const uint32_t cl_EPOLLERR = EPOLLERR;
static const uint32_t cl_EPOLLHUP = EPOLLHUP;
static const uint32_t cl_EPOLLRDHUP = EPOLLRDHUP;
static const uint32_t cl_EPOLLEXCLUSIVE = EPOLLEXCLUSIVE;
static const int cl_EFD_NONBLOCK = EFD_NONBLOCK;
static const int cl_EFD_CLOEXEC = EFD_CLOEXEC;
static const int cl_MSG_NOSIGNAL = MSG_NOSIGNAL;
static const int cl_O_CLOEXEC = O_CLOEXEC;
static const int cl_O_NONBLOCK = O_NONBLOCK;

static inline int cl_epoll_create(void) { return epoll_create1(EPOLL_CLOEXEC); }
static inline int cl_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t data) {
    struct epoll_event ev;
    ev.events = events;
    ev.data.u64 = data;
    return epoll_ctl(epfd, op, fd, &ev);
}
/// Waits for events; writes (events, data) pairs into the two arrays. Returns the count or -1.
static inline int cl_epoll_wait(int epfd, uint32_t *events, uint64_t *data, int max, int timeout_ms) {
    struct epoll_event evs[256];
    if (max > 256) max = 256;
    int n = epoll_wait(epfd, evs, max, timeout_ms);
    for (int i = 0; i < n; i++) { events[i] = evs[i].events; data[i] = evs[i].data.u64; }
    return n;
}
static inline int cl_eventfd(void) { return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC); }
int cl_accept4(int fd);
int cl_pipe2(int fds[2], int flags);
/// Adds "close every descriptor from `lowest` up" to a spawn's file actions (glibc's closefrom action).
int cl_spawn_close_from(posix_spawn_file_actions_t *actions, int lowest);
int cl_pidfd_open(int pid);
/// Makes glibc serve buffers of `threshold` bytes and more with their own mappings, returned to the system when
/// freed, and trim the heap's top above `threshold`: a burst does not leave a long-running server holding its
/// peak (glibc otherwise raises the threshold after the first large free). Returns 0 when either setting failed.
int cl_return_large_buffers(size_t threshold);
int cl_set_thread_name(const char *name);
/// A socket created inside the network namespace `netns_fd`; the thread returns to `home_fd` (see shim.c).
int cl_socket_in_netns(int netns_fd, int home_fd, int family, int type);
/// Routes `signo` to a handler that writes the signal number as one byte to `write_fd` (see SignalPipe).
int cl_install_signal_pipe(int signo, int write_fd);
static inline int cl_errno(void) { return errno; }
static inline uint64_t cl_monotonic_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}
#endif
