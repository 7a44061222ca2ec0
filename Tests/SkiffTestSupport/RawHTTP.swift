import Foundation
import Glibc

/// Bytes on a TCP connection to 127.0.0.1, exactly as given: what an attacker sends, which no HTTP client library
/// would (a target without `/`, a NUL, two requests at once). Blocking sockets on their own thread, so that a
/// slow server never holds up the test's executor.
public enum RawHTTP {
    public struct Answer: Sendable {
        public var text: String
        /// Why reading stopped, when it was not the server closing: ECONNRESET, or EAGAIN after the timeout.
        public var readError: String?
        /// The status code of the first response, 0 when the server closed without one.
        public var status: Int {
            let parts = text.split(separator: " ", maxSplits: 2)
            guard parts.count >= 2, parts[0].hasPrefix("HTTP/1.") else { return 0 }
            return Int(parts[1]) ?? 0
        }

        /// What follows the first response's head, its chunked framing taken off when it has one (a body whose
        /// length the server did not know, such as a function's streamed answer).
        public var body: String {
            guard let end = text.range(of: "\r\n\r\n") else { return "" }
            let rest = text[end.upperBound...]
            guard text[..<end.lowerBound].lowercased().contains("transfer-encoding: chunked") else {
                return String(rest)
            }
            // Size line, data, CRLF; again until the chunk of size 0.
            let bytes = Array(rest.utf8)
            var body: [UInt8] = []
            var position = 0
            while let lineEnd = bytes[position...].firstIndex(of: UInt8(ascii: "\n")),
                let size = Int(
                    String(decoding: bytes[position..<lineEnd], as: UTF8.self).trimmingCharacters(
                        in: .whitespacesAndNewlines),
                    radix: 16),
                size > 0, lineEnd + 1 + size <= bytes.count
            {
                body += bytes[(lineEnd + 1)..<(lineEnd + 1 + size)]
                position = min(lineEnd + 1 + size + 2, bytes.count)
            }
            return String(decoding: body, as: UTF8.self)
        }
    }

    /// Sends `bytes`, then reads until the server closes or `timeout` passes without a byte.
    public static func exchange(port: Int, _ bytes: [UInt8], timeout: Duration = .seconds(20)) async throws -> Answer {
        try await onThread { try blockingExchange(port: port, bytes, timeout: timeout) }
    }

    public static func exchange(port: Int, _ text: String, timeout: Duration = .seconds(20)) async throws -> Answer {
        try await exchange(port: port, Array(text.utf8), timeout: timeout)
    }

    /// An open connection, for tests that hold many (idle or unread) at once.
    public static func connect(port: Int) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw RawHTTPError("socket: \(String(cString: strerror(errno)))") }
        var address = loopbackAddress(port: port)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw RawHTTPError("connect to 127.0.0.1:\(port): \(reason)")
        }
        return fd
    }

    /// A TCP socket bound to a free port on 127.0.0.1 and not listening: the port stays the caller's (nobody else
    /// can start listening on it), and the kernel answers a connection to it with a reset at once.
    public static func boundLoopbackSocket() throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var address = loopbackAddress(port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard fd >= 0, bound == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw RawHTTPError("bind 127.0.0.1:0: \(reason)")
        }
        return fd
    }

    /// 127.0.0.1:`port` as the socket calls take it.
    public static func loopbackAddress(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return address
    }

    /// Writes everything, unless the peer stops reading (then returns what was written).
    @discardableResult
    public static func send(_ fd: Int32, _ bytes: [UInt8]) -> Int {
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { break }
            sent += n
        }
        return sent
    }

    /// Sends `request` `times` times on one connection and never reads, until everything is sent or the peer
    /// has taken nothing for `stallAfter`. Returns the open connection and how many bytes the peer took.
    public static func sendUntilBlocked(port: Int, _ request: [UInt8], times: Int, stallAfter: Duration) async throws
        -> (fd: Int32, bytes: Int)
    {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(
                    with: Result {
                        let fd = try connect(port: port)
                        var limit = timeval(tv_sec: Int(stallAfter.components.seconds), tv_usec: 0)
                        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
                        let batch = Array([[UInt8]](repeating: request, count: 100).joined())
                        var sent = 0
                        for _ in 0..<(times / 100) {
                            let n = send(fd, batch)
                            sent += n
                            if n < batch.count { break }
                        }
                        return (fd, sent)
                    })
            }
        }
    }

    /// Reads from an open connection until the bytes end with `suffix`, the peer closes, or `timeout` passes
    /// without a byte.
    public static func read(_ fd: Int32, untilSuffix suffix: String, timeout: Duration = .seconds(60)) async throws
        -> Answer
    {
        try await onThread { blockingRead(fd, until: Array(suffix.utf8), timeout: timeout) }
    }

    /// Reads from an open connection until the peer closes or `timeout` passes without a byte.
    public static func readToClose(_ fd: Int32, timeout: Duration = .seconds(60)) async throws -> Answer {
        try await onThread { blockingRead(fd, until: nil, timeout: timeout) }
    }

    private static func onThread<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread { continuation.resume(with: Result { try work() }) }
        }
    }

    private static func blockingExchange(port: Int, _ bytes: [UInt8], timeout: Duration) throws -> Answer {
        let fd = try connect(port: port)
        defer { close(fd) }
        send(fd, bytes)
        return blockingRead(fd, until: nil, timeout: timeout)
    }

    private static func blockingRead(_ fd: Int32, until suffix: [UInt8]?, timeout: Duration) -> Answer {
        var limit = timeval(tv_sec: Int(timeout.components.seconds), tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        var readError: String?
        while suffix.map({ !(received.count >= $0.count && received.suffix($0.count).elementsEqual($0)) }) ?? true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 { readError = String(cString: strerror(errno)) }
            if n <= 0 { break }
            received.append(contentsOf: buffer[0..<n])
        }
        return Answer(text: String(decoding: received, as: UTF8.self), readError: readError)
    }
}

public struct RawHTTPError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
