// The calls that need _GNU_SOURCE, kept out of the header (see CLinux.h).
#define _GNU_SOURCE
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>
#include <fcntl.h>
#include <spawn.h>

int cl_accept4(int fd) { return accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC); }
int cl_pipe2(int fds[2], int flags) { return pipe2(fds, flags); }
int cl_spawn_close_from(posix_spawn_file_actions_t *actions, int lowest) {
    return posix_spawn_file_actions_addclosefrom_np(actions, lowest);
}
int cl_set_thread_name(const char *name) { return pthread_setname_np(pthread_self(), name); }

// Signals: a self-pipe. The handler only writes one byte (async-signal-safe); a thread reads the pipe.
#include <errno.h>
#include <signal.h>
#include <string.h>

static volatile int cl_signal_pipe_fd = -1;

static void cl_signal_handler(int signo) {
    int saved = errno;
    unsigned char byte = (unsigned char)signo;
    if (cl_signal_pipe_fd >= 0) (void)write(cl_signal_pipe_fd, &byte, 1);
    errno = saved;
}

int cl_install_signal_pipe(int signo, int write_fd) {
    cl_signal_pipe_fd = write_fd;
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = cl_signal_handler;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    return sigaction(signo, &action, NULL);
}

// A socket that belongs to another network namespace: the calling thread enters `netns_fd`, creates the socket
// and returns to `home_fd` before anything else runs on it. The socket keeps its namespace for its whole life.
// Returns the socket, or -1 with errno set; if the thread cannot return home it aborts, because every later
// socket it made would silently live in the wrong namespace.
#include <sched.h>
#include <stdlib.h>

int cl_socket_in_netns(int netns_fd, int home_fd, int family, int type) {
    if (setns(netns_fd, CLONE_NEWNET) != 0) return -1;
    int fd = socket(family, type, 0);
    int saved = errno;
    if (setns(home_fd, CLONE_NEWNET) != 0) abort();
    errno = saved;
    return fd;
}

// A descriptor that becomes readable when the process exits (Linux 5.3): a wait for a process that is not our
// child, without polling.
#include <sys/syscall.h>
int cl_pidfd_open(int pid) { return (int)syscall(SYS_pidfd_open, pid, 0); }

#include <malloc.h>
int cl_return_large_buffers(size_t threshold) {
    return mallopt(M_MMAP_THRESHOLD, (int)threshold) && mallopt(M_TRIM_THRESHOLD, (int)threshold);
}
