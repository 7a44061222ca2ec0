// The calls that need _GNU_SOURCE, kept out of the header (see CLinux.h).
#define _GNU_SOURCE
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>
#include <fcntl.h>

int cl_accept4(int fd) { return accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC); }
int cl_pipe2(int fds[2], int flags) { return pipe2(fds, flags); }
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
