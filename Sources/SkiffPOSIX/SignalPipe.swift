import CLinux
import Glibc

/// Delivers signals through a self-pipe: a C handler, installed synchronously with `sigaction`, writes each signal's
/// number as one byte; ``next()`` reads them. No signal that arrives after ``init(signals:)`` returns is lost, even
/// before anyone reads (the pipe keeps it), which Dispatch signal sources (armed asynchronously) cannot promise.
/// One pipe per process: a newer SignalPipe takes the signals over from an older one.
public final class SignalPipe: Sendable {
    private let readFD: Int32
    private let writeFD: Int32

    public init(signals: [Int32]) throws(SystemError) {
        var fds: [Int32] = [0, 0]
        _ = try systemCall("pipe2", { cl_pipe2(&fds, cl_O_CLOEXEC) })
        readFD = fds[0]
        writeFD = fds[1]
        // A full pipe must never block the handler; a dropped byte only repeats a pending signal.
        _ = fcntl(writeFD, F_SETFL, cl_O_NONBLOCK)
        for number in signals {
            _ = try systemCall("sigaction(\(number))", { cl_install_signal_pipe(number, writeFD) })
        }
    }

    /// Blocks until a signal arrives and returns its number. Call it from a thread of its own.
    public func next() -> Int32? {
        var byte: UInt8 = 0
        while true {
            let n = read(readFD, &byte, 1)
            if n == 1 { return Int32(byte) }
            if n < 0 && errno == EINTR { continue }
            return nil
        }
    }
}
