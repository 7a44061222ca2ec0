import CLinux
import Glibc
import Synchronization

/// Runs a program to completion: arguments passed as they are (no shell), optional standard input, standard
/// output and error captured, a deadline after which it gets SIGTERM and, a grace period later, SIGKILL.
/// The waiting (poll, waitpid) happens on a thread of its own, never on Swift's cooperative pool.
/// This is how the daemon drives `ctr`, `runc` and the CNI plugins.
public struct ChildProcess: Sendable {
    public var executable: String
    public var arguments: [String]
    /// Replaces the environment when set; otherwise the child inherits the daemon's.
    public var environment: [String: String]?
    public var standardInput: [UInt8]?
    public var timeout: Duration
    public var killGrace: Duration = .seconds(2)
    /// Output beyond this many bytes per stream is read and dropped, so a chatty child cannot exhaust memory.
    public var outputLimit = 16 * 1024 * 1024
    /// Told how many bytes of `standardInput` the child has taken so far, after each write (``run()`` only):
    /// a progress display for a large input.
    public var inputProgress: (@Sendable (Int) -> Void)?
    /// Told each line of standard output as it arrives, without its newline (``run()`` only; the outcome
    /// still holds the output): a child that reports its own progress.
    public var outputLine: (@Sendable (String) -> Void)?

    public init(_ executable: String, _ arguments: [String] = [], timeout: Duration = .seconds(60)) {
        self.executable = executable
        self.arguments = arguments
        self.timeout = timeout
    }

    /// How a finished child ended.
    public struct Outcome: Sendable, Equatable {
        /// The exit status, or nil when a signal ended it.
        public var exitCode: Int32?
        public var signal: Int32?
        public var standardOutput: [UInt8]
        public var standardError: [UInt8]
        /// The deadline passed and Skiff killed the child.
        public var timedOut: Bool

        public var succeeded: Bool { exitCode == 0 && !timedOut }
        /// How it ended, as a phrase after the command: "exited with status 3", "was killed by signal 9
        /// (SIGKILL)", "timed out and was killed".
        public var ending: String {
            if timedOut { return "timed out and was killed" }
            if let exitCode { return "exited with status \(exitCode)" }
            let number = signal ?? 0
            let names = [
                SIGTERM: "SIGTERM", SIGKILL: "SIGKILL", SIGINT: "SIGINT", SIGSEGV: "SIGSEGV", SIGABRT: "SIGABRT",
            ]
            return "was killed by signal \(number)" + (names[number].map { " (\($0))" } ?? "")
        }
        public var outputText: String { String(decoding: standardOutput, as: UTF8.self) }
        public var errorText: String { String(decoding: standardError, as: UTF8.self) }
    }

    /// Starts the child and waits for it. Throws only when it cannot be started; a failing child is an outcome.
    public func run() async throws -> Outcome {
        let started = try spawn()
        let timeout = self.timeout
        let grace = killGrace
        let limit = outputLimit
        do {
            return try await PosixThread.run(name: "skiff-child") {
                started.wait(timeout: timeout, grace: grace, limit: limit)
            }
        } catch {
            started.abandon()
            throw error
        }
    }

    /// Like ``run()``, but a child that fails or times out becomes a ``ChildProcessError`` carrying its stderr.
    public func runChecked() async throws -> Outcome {
        let outcome = try await run()
        guard outcome.succeeded else { throw ChildProcessError(command: commandLine, outcome: outcome) }
        return outcome
    }

    /// Starts a long-running child and yields its standard output line by line (without the newline; lines
    /// longer than `outputLimit` are cut). The stream ends when the child exits: normally after a zero status,
    /// with a ``ChildProcessError`` otherwise (a signal included). Cancelling the consuming task, or dropping the stream, sends the
    /// child SIGTERM. Reading happens on a thread of its own. `timeout` does not apply.
    public func lines() throws -> AsyncThrowingStream<String, any Error> {
        try start().lines
    }

    /// A started child whose standard output is read line by line; see ``lines()``.
    public struct Streaming: Sendable {
        /// For signalling the child (it is reaped by the reading thread, never by the caller).
        public let pid: pid_t
        public let lines: AsyncThrowingStream<String, any Error>
    }

    /// Like ``lines()``, but also tells the child's PID.
    public func start() throws -> Streaming {
        let started = try spawn()
        let command = commandLine
        let limit = outputLimit
        let (stream, continuation) = AsyncThrowingStream<String, any Error>.makeStream(bufferingPolicy: .unbounded)
        // Only when the consumer stops early: after a normal finish the PID is reaped and may be reused.
        continuation.onTermination = { termination in
            if case .cancelled = termination { kill(started.pid, SIGTERM) }
        }
        do {
            try PosixThread.detach(name: "skiff-lines") {
                let outcome = started.stream(limit: limit) { continuation.yield($0) }
                if outcome.succeeded {
                    continuation.finish()
                } else {
                    continuation.finish(throwing: ChildProcessError(command: command, outcome: outcome))
                }
            }
        } catch {
            started.abandon()
            throw error
        }
        return Streaming(pid: started.pid, lines: stream)
    }

    /// The command as a person would type it, for errors and logs.
    public var commandLine: String { ([executable] + arguments).joined(separator: " ") }

    // MARK: Spawning

    private func spawn() throws(SystemError) -> Running {
        var input: [Int32] = [-1, -1]
        var output: [Int32] = [-1, -1]
        var error: [Int32] = [-1, -1]
        func closeAll() { for fd in input + output + error where fd >= 0 { Glibc.close(fd) } }
        do {
            _ = try systemCall("pipe2", { cl_pipe2(&input, cl_O_CLOEXEC) })
            _ = try systemCall("pipe2", { cl_pipe2(&output, cl_O_CLOEXEC) })
            _ = try systemCall("pipe2", { cl_pipe2(&error, cl_O_CLOEXEC) })
        } catch {
            closeAll()
            throw error
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, input[0], 0)
        posix_spawn_file_actions_adddup2(&actions, output[1], 1)
        posix_spawn_file_actions_adddup2(&actions, error[1], 2)
        // Nothing but the three pipes: a descriptor some library opened without O_CLOEXEC (or a thread opened
        // between its open and its fcntl) would otherwise live on in a child that may outlive the connection or
        // file it belongs to, and a peer would wait for a close that never comes.
        cl_spawn_close_from(&actions, 3)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // The daemon ignores or handles some signals; the child starts with default dispositions.
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for number in [SIGTERM, SIGINT, SIGHUP, SIGPIPE, SIGUSR1, SIGUSR2] { sigaddset(&defaults, number) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        let argv = ([executable] + arguments).map { strdup($0) }
        let envp = environment.map { $0.map { strdup("\($0.key)=\($0.value)") } }
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp ?? [] { free(pointer) }
        }
        var pid = pid_t()
        // Spawned and registered under one lock, so an orphan reaper never mistakes this child for a stranger.
        let result = ChildRegistry.pids.withLock { pids -> Int32 in
            // The buffers hold at least the terminating nil, so their base addresses exist.
            let result = (argv + [nil]).withUnsafeBufferPointer { argvBuffer -> Int32 in
                if let envp {
                    return (envp + [nil]).withUnsafeBufferPointer { envBuffer in
                        posix_spawn(
                            &pid, executable, &actions, &attributes, argvBuffer.baseAddress!, envBuffer.baseAddress!)
                    }
                }
                return posix_spawn(&pid, executable, &actions, &attributes, argvBuffer.baseAddress!, environ)
            }
            if result == 0 { pids.insert(pid) }
            return result
        }
        Glibc.close(input[0])
        Glibc.close(output[1])
        Glibc.close(error[1])
        guard result == 0 else {
            Glibc.close(input[1])
            Glibc.close(output[0])
            Glibc.close(error[0])
            throw SystemError(call: "posix_spawn(\(executable))", errno: result)
        }
        return Running(
            pid: pid, stdinFD: input[1], stdoutFD: output[0], stderrFD: error[0], input: standardInput ?? [],
            inputProgress: inputProgress, outputLine: outputLine)
    }
}

/// A child that exited unsuccessfully or timed out, with what it said on stderr.
public struct ChildProcessError: Error, CustomStringConvertible {
    public let command: String
    public let outcome: ChildProcess.Outcome

    public init(command: String, outcome: ChildProcess.Outcome) {
        self.command = command
        self.outcome = outcome
    }

    public var description: String {
        let said = outcome.errorText.trimmingTrailingWhitespace()
        return "`\(command)` \(outcome.ending)" + (said.isEmpty ? "" : ": \(said)")
    }
}

extension String {
    fileprivate func trimmingTrailingWhitespace() -> String {
        var text = Substring(self)
        while let last = text.last, last.isWhitespace { text = text.dropLast() }
        return String(text)
    }
}

/// A started child and its pipes; waited for on a thread of its own.
private struct Running: Sendable {
    let pid: pid_t
    let stdinFD: Int32
    let stdoutFD: Int32
    let stderrFD: Int32
    let input: [UInt8]
    var inputProgress: (@Sendable (Int) -> Void)? = nil
    var outputLine: (@Sendable (String) -> Void)? = nil

    /// Closes the pipes and reaps the child when no thread could be started to wait for it.
    func abandon() {
        kill(pid, SIGKILL)
        for fd in [stdinFD, stdoutFD, stderrFD] { Glibc.close(fd) }
        var status: Int32 = 0
        _ = waitpid(pid, &status, 0)
        _ = ChildRegistry.pids.withLock { $0.remove(pid) }
    }

    /// Hands each stdout line to `line` until the child closes stdout, keeps the start of stderr, then reaps.
    /// Blocks.
    func stream(limit: Int, _ line: (String) -> Void) -> ChildProcess.Outcome {
        Glibc.close(stdinFD)
        var pending = LineSplitter()
        var err: [UInt8] = []
        var open: [Int32] = [stdoutFD, stderrFD]
        var buffer = [UInt8](repeating: 0, count: 65536)
        while !open.isEmpty {
            var fds = open.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            guard poll(&fds, nfds_t(fds.count), -1) > 0 else { continue }
            for entry in fds where entry.revents != 0 {
                let n = Glibc.read(entry.fd, &buffer, buffer.count)
                if n > 0 {
                    if entry.fd == stderrFD {
                        if err.count < limit { err += buffer[0..<min(n, limit - err.count)] }
                        continue
                    }
                    pending.feed(buffer[0..<n], to: line, limit: limit)
                } else if n == 0 || (errno != EINTR && errno != EAGAIN) {
                    Glibc.close(entry.fd)
                    open.removeAll { $0 == entry.fd }
                }
            }
        }
        pending.finish(to: line)
        return reap(out: [], err: err, timedOut: false)
    }

    /// Feeds stdin, drains stdout and stderr, enforces the deadline, then reaps. Blocks.
    func wait(timeout: Duration, grace: Duration, limit: Int) -> ChildProcess.Outcome {
        var out: [UInt8] = []
        var err: [UInt8] = []
        var written = 0
        var stdin = stdinFD
        if input.isEmpty {
            Glibc.close(stdin)
            stdin = -1
        } else {
            _ = fcntl(stdin, F_SETFL, cl_O_NONBLOCK)
        }
        var open: [Int32] = [stdoutFD, stderrFD]
        let start = monotonicNanoseconds()
        let deadline = start &+ timeout.nanoseconds
        var killDeadline: UInt64?
        var giveUpAt: UInt64 = .max
        var timedOut = false
        var buffer = [UInt8](repeating: 0, count: 65536)
        var pendingLine = LineSplitter()
        while !open.isEmpty {
            let now = monotonicNanoseconds()
            if killDeadline == nil && now >= deadline {
                timedOut = true
                kill(pid, SIGTERM)
                killDeadline = now &+ grace.nanoseconds
            }
            if let killAt = killDeadline, now >= killAt {
                if killAt == giveUpAt { break }  // a grandchild holds the pipes open; stop reading them
                kill(pid, SIGKILL)
                giveUpAt = now &+ grace.nanoseconds
                killDeadline = giveUpAt
            }
            let until = killDeadline ?? deadline
            let waitMs = Int32(min(1000, max(1, (until &- min(until, now)) / 1_000_000)))
            var fds = open.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            if stdin >= 0 { fds.append(pollfd(fd: stdin, events: Int16(POLLOUT), revents: 0)) }
            let ready = poll(&fds, nfds_t(fds.count), waitMs)
            if ready <= 0 { continue }
            for entry in fds where entry.revents != 0 {
                if entry.fd == stdin {
                    let n = input[written...].withUnsafeBytes { Glibc.write(stdin, $0.baseAddress, $0.count) }
                    if n > 0 {
                        written += n
                        inputProgress?(written)
                    }
                    if n < 0 && errno != EAGAIN && errno != EINTR || written == input.count {
                        Glibc.close(stdin)
                        stdin = -1
                    }
                    continue
                }
                let n = Glibc.read(entry.fd, &buffer, buffer.count)
                if n > 0 {
                    if entry.fd == stdoutFD {
                        if let outputLine { pendingLine.feed(buffer[0..<n], to: outputLine, limit: limit) }
                        if out.count < limit { out += buffer[0..<min(n, limit - out.count)] }
                    } else if err.count < limit {
                        err += buffer[0..<min(n, limit - err.count)]
                    }
                } else if n == 0 || (errno != EINTR && errno != EAGAIN) {
                    Glibc.close(entry.fd)
                    open.removeAll { $0 == entry.fd }
                }
            }
        }
        if stdin >= 0 { Glibc.close(stdin) }
        for fd in open { Glibc.close(fd) }
        if let outputLine { pendingLine.finish(to: outputLine) }
        return reap(out: out, err: err, timedOut: timedOut)
    }

    private func reap(out: [UInt8], err: [UInt8], timedOut: Bool) -> ChildProcess.Outcome {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        _ = ChildRegistry.pids.withLock { $0.remove(pid) }
        let signaled = (status & 0x7f) != 0 && (status & 0x7f) != 0x7f
        return ChildProcess.Outcome(
            exitCode: signaled ? nil : (status >> 8) & 0xff, signal: signaled ? status & 0x7f : nil,
            standardOutput: out, standardError: err, timedOut: timedOut)
    }
}

/// Cuts a byte stream into lines (without the newline); a line longer than the limit is handed on in pieces.
private struct LineSplitter {
    private var pending: [UInt8] = []

    mutating func feed(_ bytes: ArraySlice<UInt8>, to line: (String) -> Void, limit: Int) {
        pending += bytes
        var start = 0
        while let newline = pending[start...].firstIndex(of: UInt8(ascii: "\n")) {
            line(String(decoding: pending[start..<newline], as: UTF8.self))
            start = newline + 1
        }
        pending.removeFirst(start)
        if pending.count > limit {
            line(String(decoding: pending.prefix(limit), as: UTF8.self))
            pending.removeAll()
        }
    }

    mutating func finish(to line: (String) -> Void) {
        if !pending.isEmpty { line(String(decoding: pending, as: UTF8.self)) }
        pending.removeAll()
    }
}

/// The children ChildProcess spawned and has not reaped yet.
enum ChildRegistry {
    static let pids = Mutex<Set<pid_t>>([])
}

extension ChildProcess {
    /// Reaps exited children this process did not spawn through ChildProcess: as PID 1 of a container (the
    /// watchdog), orphans of the function's processes are re-parented to us and would stay zombies. Children
    /// ChildProcess spawned are left to their own waiters. Scans /proc; call it from time to time.
    public static func reapOrphans() {
        let me = getpid()
        guard let directory = opendir("/proc") else { return }
        defer { closedir(directory) }
        var zombies: [pid_t] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) {
                String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self)
            }
            guard let pid = pid_t(name), pid != me else { continue }
            guard let stat = try? ProcessStat.read(pid: pid), stat.state == UInt8(ascii: "Z"), stat.parent == me
            else { continue }
            zombies.append(pid)
        }
        guard !zombies.isEmpty else { return }
        ChildRegistry.pids.withLock { ours in
            for pid in zombies where !ours.contains(pid) {
                var status: Int32 = 0
                _ = waitpid(pid, &status, WNOHANG)
            }
        }
    }
}
