/// The seccomp filter every replica runs under: the same policy as the default profiles of containerd and Docker
/// (an allow-list, everything else refused with EPERM), written here as data from the facts of those public
/// profiles. A function runs without CAP_SYS_ADMIN, CAP_SYS_PTRACE or CAP_SYS_MODULE, so the calls those
/// profiles grant only with such capabilities are left out: namespaces (`unshare`, `setns`, `clone` with a
/// CLONE_NEW* flag), `mount`, `pivot_root`, `bpf`, `ptrace`, `kexec_load`, module loading, the kernel keyring
/// (`keyctl`, `add_key`, `request_key`), `perf_event_open`, `userfaultfd`, `reboot`, clock setting.
///
/// Encoded as the OCI runtime spec's `linux.seccomp`, which runc turns into a BPF program with libseccomp.
struct SeccompProfile: Codable, Sendable, Equatable {
    var defaultAction = "SCMP_ACT_ERRNO"
    var architectures: [String]
    var syscalls: [Rule]

    struct Rule: Codable, Sendable, Equatable {
        var names: [String]
        var action: String
        var errnoRet: UInt32?
        var args: [Argument]?
    }

    struct Argument: Codable, Sendable, Equatable {
        var index: UInt32
        var value: UInt64
        var valueTwo: UInt64?
        var op: String
    }

    /// The profile for the machine Skiff was built for.
    static var `default`: SeccompProfile {
        #if arch(x86_64)
            let architectures = ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
            let machine = ["arch_prctl", "modify_ldt"]
        #elseif arch(arm64)
            let architectures = ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]
            let machine = ["arm_fadvise64_64", "arm_sync_file_range", "breakpoint", "cacheflush", "set_tls"]
        #else
            let architectures: [String] = []
            let machine: [String] = []
        #endif
        var rules = [Rule(names: allowed + machine, action: "SCMP_ACT_ALLOW")]
        // personality(2) only for the values programs use to query or to ask for the default or 32-bit layout.
        for persona: UInt64 in [0x0, 0x8, 0x20000, 0x20008, 0xffff_ffff] {
            rules.append(
                Rule(
                    names: ["personality"], action: "SCMP_ACT_ALLOW",
                    args: [Argument(index: 0, value: persona, op: "SCMP_CMP_EQ")]))
        }
        // clone(2) without any CLONE_NEW* flag: threads and processes, never namespaces.
        rules.append(
            Rule(
                names: ["clone"], action: "SCMP_ACT_ALLOW",
                args: [
                    Argument(index: cloneFlagsArgument, value: namespaceFlags, valueTwo: 0, op: "SCMP_CMP_MASKED_EQ")
                ]))
        // clone3 passes its flags in memory, where a filter cannot look; ENOSYS makes glibc fall back to clone,
        // which is filtered above. EPERM would make thread creation fail outright.
        rules.append(Rule(names: ["clone3"], action: "SCMP_ACT_ERRNO", errnoRet: 38))
        return SeccompProfile(architectures: architectures, syscalls: rules)
    }

    /// CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET.
    static let namespaceFlags: UInt64 =
        0x0002_0000 | 0x0200_0000 | 0x0400_0000 | 0x0800_0000 | 0x1000_0000
        | 0x2000_0000 | 0x4000_0000

    /// s390 swaps clone's first two arguments; everywhere Skiff runs, the flags come first.
    static let cloneFlagsArgument: UInt32 = 0

    /// Calls any process may make without a capability the function lacks.
    static let allowed: [String] = [
        // Files and directories
        "access", "chdir", "chmod", "chown", "chown32", "close", "close_range", "copy_file_range", "creat", "dup",
        "dup2", "dup3", "faccessat", "faccessat2", "fadvise64", "fadvise64_64", "fallocate", "fchdir", "fchmod",
        "fchmodat", "fchmodat2", "fchown", "fchown32", "fchownat", "fcntl", "fcntl64", "fdatasync", "fgetxattr",
        "flistxattr", "flock", "fremovexattr", "fsetxattr", "fstat", "fstat64", "fstatat64", "fstatfs", "fstatfs64",
        "fsync", "ftruncate", "ftruncate64", "futimesat", "getcwd", "getdents", "getdents64", "getxattr",
        "inotify_add_watch", "inotify_init", "inotify_init1", "inotify_rm_watch", "lchown", "lchown32", "lgetxattr",
        "link", "linkat", "listxattr", "llistxattr", "_llseek", "lremovexattr", "lseek", "lsetxattr", "lstat",
        "lstat64", "mkdir", "mkdirat", "mknod", "mknodat", "newfstatat", "open", "openat", "openat2", "pread64",
        "preadv", "preadv2", "pwrite64", "pwritev", "pwritev2", "read", "readahead", "readlink", "readlinkat",
        "readv", "removexattr", "rename", "renameat", "renameat2", "rmdir", "sendfile", "sendfile64", "setxattr",
        "splice", "stat", "stat64", "statfs", "statfs64", "statx", "symlink", "symlinkat", "sync", "sync_file_range",
        "syncfs", "tee", "truncate", "truncate64", "umask", "unlink", "unlinkat", "utime", "utimensat",
        "utimensat_time64", "utimes", "vmsplice", "write", "writev", "fanotify_mark",
        // Memory
        "brk", "get_mempolicy", "madvise", "mbind", "membarrier", "memfd_create", "mincore", "mlock", "mlock2",
        "mlockall", "mmap", "mmap2", "mprotect", "mremap", "msync", "munlock", "munlockall", "munmap",
        "remap_file_pages", "set_mempolicy", "pkey_alloc", "pkey_free", "pkey_mprotect",
        // Processes, threads and signals
        "capget", "capset", "execve", "execveat", "exit", "exit_group", "fork", "futex", "futex_time64",
        "futex_waitv", "get_robust_list", "get_thread_area", "getcpu", "getegid", "getegid32", "geteuid",
        "geteuid32", "getgid", "getgid32", "getgroups", "getgroups32", "getpgid", "getpgrp", "getpid", "getppid",
        "getpriority", "getresgid", "getresgid32", "getresuid", "getresuid32", "getrlimit", "getrusage", "getsid",
        "gettid", "getuid", "getuid32", "ioprio_get", "ioprio_set", "kill", "pause", "pidfd_open",
        "pidfd_send_signal", "prctl", "prlimit64", "restart_syscall", "rseq", "rt_sigaction", "rt_sigpending",
        "rt_sigprocmask", "rt_sigqueueinfo", "rt_sigreturn", "rt_sigsuspend", "rt_sigtimedwait",
        "rt_sigtimedwait_time64", "rt_tgsigqueueinfo", "sched_get_priority_max", "sched_get_priority_min",
        "sched_getaffinity", "sched_getattr", "sched_getparam", "sched_getscheduler", "sched_rr_get_interval",
        "sched_rr_get_interval_time64", "sched_setaffinity", "sched_setattr", "sched_setparam",
        "sched_setscheduler", "sched_yield", "seccomp", "set_robust_list", "set_thread_area", "set_tid_address",
        "setfsgid", "setfsgid32", "setfsuid", "setfsuid32", "setgid", "setgid32", "setgroups", "setgroups32",
        "setpgid", "setpriority", "setregid", "setregid32", "setresgid", "setresgid32", "setresuid",
        "setresuid32", "setreuid", "setreuid32", "setrlimit", "setsid", "setuid", "setuid32", "sigaltstack",
        "signalfd", "signalfd4", "sigprocmask", "sigreturn", "tgkill", "tkill", "ugetrlimit", "vfork", "wait4",
        "waitid", "waitpid", "process_mrelease",
        // Time and timers
        "alarm", "clock_getres", "clock_getres_time64", "clock_gettime", "clock_gettime64", "clock_nanosleep",
        "clock_nanosleep_time64", "getitimer", "gettimeofday", "nanosleep", "setitimer", "time", "timer_create",
        "timer_delete", "timer_getoverrun", "timer_gettime", "timer_gettime64", "timer_settime", "timer_settime64",
        "timerfd_create", "timerfd_gettime", "timerfd_gettime64", "timerfd_settime", "timerfd_settime64", "times",
        // Sockets and waiting
        "accept", "accept4", "bind", "connect", "epoll_create", "epoll_create1", "epoll_ctl", "epoll_ctl_old",
        "epoll_pwait", "epoll_pwait2", "epoll_wait", "epoll_wait_old", "eventfd", "eventfd2", "getpeername",
        "getsockname", "getsockopt", "listen", "_newselect", "pipe", "pipe2", "poll", "ppoll", "ppoll_time64",
        "pselect6", "pselect6_time64", "recv", "recvfrom", "recvmmsg", "recvmmsg_time64", "recvmsg", "select",
        "send", "sendmmsg", "sendmsg", "sendto", "setsockopt", "shutdown", "socket", "socketcall", "socketpair",
        // Asynchronous I/O, System V and POSIX IPC (in the replica's own IPC namespace)
        "io_cancel", "io_destroy", "io_getevents", "io_pgetevents", "io_pgetevents_time64", "io_setup", "io_submit",
        "ioctl", "ipc", "mq_getsetattr", "mq_notify", "mq_open", "mq_timedreceive", "mq_timedreceive_time64",
        "mq_timedsend", "mq_timedsend_time64", "mq_unlink", "msgctl", "msgget", "msgrcv", "msgsnd", "semctl",
        "semget", "semop", "semtimedop", "semtimedop_time64", "shmat", "shmctl", "shmdt", "shmget",
        // System information
        "getrandom", "sysinfo", "syslog", "uname",
        // Unprivileged sandboxing a function may apply to itself
        "landlock_add_rule", "landlock_create_ruleset", "landlock_restrict_self",
    ]
}
