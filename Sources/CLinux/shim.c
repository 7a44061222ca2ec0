// The calls that need _GNU_SOURCE, kept out of the header (see CLinux.h).
#define _GNU_SOURCE
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>
#include <fcntl.h>

int cl_accept4(int fd) { return accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC); }
int cl_pipe2(int fds[2], int flags) { return pipe2(fds, flags); }
int cl_set_thread_name(const char *name) { return pthread_setname_np(pthread_self(), name); }
