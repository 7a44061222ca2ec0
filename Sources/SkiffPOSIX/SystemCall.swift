import CLinux
import Glibc

/// A failed system call: which call, and the errno it left, captured right after the call.
public struct SystemError: Error, Equatable, CustomStringConvertible {
    public let call: String
    public let errno: Int32

    public init(call: String, errno: Int32) {
        self.call = call
        self.errno = errno
    }

    public var description: String {
        let reason = strerror(errno).map { String(cString: $0) } ?? "errno \(errno)"
        return "\(call) failed: \(reason) (errno \(errno))"
    }
}

/// The outcome of a call on a non-blocking descriptor: done, or it would have blocked.
public enum IOResult<Value> {
    case processed(Value)
    case wouldBlock
}

/// Runs a system call, retrying on EINTR, and reads errno immediately after a failure.
/// EBADF and EFAULT can only mean a bug in Skiff (a closed or foreign descriptor, a bad pointer),
/// so they stop the program instead of being thrown and silently mishandled.
@inline(__always)
public func systemCall<T: FixedWidthInteger>(_ name: @autoclosure () -> String, _ body: () -> T) throws(SystemError)
    -> T
{
    while true {
        let result = body()
        if result >= 0 { return result }
        let code = cl_errno()
        if code == EINTR { continue }
        if code == EBADF || code == EFAULT {
            preconditionFailure(
                "\(name()) failed with \(code == EBADF ? "EBADF" : "EFAULT"): a descriptor bug in Skiff")
        }
        throw SystemError(call: name(), errno: code)
    }
}

/// Like ``systemCall(_:_:)`` but maps EAGAIN/EWOULDBLOCK to ``IOResult/wouldBlock``.
@inline(__always)
public func nonBlockingCall<T: FixedWidthInteger>(_ name: @autoclosure () -> String, _ body: () -> T)
    throws(SystemError) -> IOResult<T>
{
    while true {
        let result = body()
        if result >= 0 { return .processed(result) }
        let code = cl_errno()
        if code == EINTR { continue }
        if code == EAGAIN || code == EWOULDBLOCK { return .wouldBlock }
        if code == EBADF || code == EFAULT {
            preconditionFailure(
                "\(name()) failed with \(code == EBADF ? "EBADF" : "EFAULT"): a descriptor bug in Skiff")
        }
        throw SystemError(call: name(), errno: code)
    }
}

/// The monotonic clock in nanoseconds; never goes backwards, unaffected by wall-clock changes.
@inline(__always)
public func monotonicNanoseconds() -> UInt64 { cl_monotonic_ns() }

/// The wall clock as seconds and nanoseconds since the Unix epoch (timestamps in logs and headers).
public func wallClockNow() -> (seconds: Int, nanoseconds: Int) {
    var spec = timespec()
    clock_gettime(CLOCK_REALTIME, &spec)
    return (spec.tv_sec, spec.tv_nsec)
}

/// Writes all of `bytes` to a blocking descriptor (a file), retrying short writes and EINTR. The errno of a
/// failure is left in `errno` for the caller's message. Blocks.
public func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
    bytes.withUnsafeBytes { buffer in
        guard let base = buffer.baseAddress else { return true }
        var offset = 0
        while offset < buffer.count {
            let written = Glibc.write(fd, base + offset, buffer.count - offset)
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { return false }
            offset += written
        }
        return true
    }
}
