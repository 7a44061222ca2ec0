import Foundation
import Glibc
import SkiffPOSIX
import Synchronization

/// A datagram socket standing in for systemd's notify socket (or journald's). Like systemd it reads all the time
/// (on a thread of its own): a sender is never left blocked on a full socket queue, which for a Unix datagram
/// socket holds only `net.unix.max_dgram_qlen` (10) messages.
public final class NotifySocket: Sendable {
    public let path: String
    private let state: State
    private let isReading: Bool

    private final class State: Sendable {
        let fd: Int32
        let received = Mutex<(messages: [String], cursor: Int, isClosed: Bool)>(([], 0, false))
        init(fd: Int32) { self.fd = fd }
    }

    /// - Parameter reads: false makes a manager that never reads, whose queue fills after a few messages.
    public init(path: String? = nil, reads: Bool = true) throws {
        let path = path ?? "/tmp/skiff-notify-\(getpid())-\(UUID().uuidString.prefix(8)).sock"
        self.path = path
        unlink(path)
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            for (index, byte) in path.utf8.enumerated() { buffer[index] = byte }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard bound == 0 else {
            close(fd)
            throw SystemError(call: "bind", errno: errno)
        }
        var timeout = timeval(tv_sec: 0, tv_usec: 200_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let state = State(fd: fd)
        self.state = state
        isReading = reads
        guard reads else { return }
        try PosixThread.detach(name: "test-notify") {
            var buffer = [UInt8](repeating: 0, count: 65536)
            while !state.received.withLock({ $0.isClosed }) {
                let n = recv(fd, &buffer, buffer.count, 0)
                if n > 0 {
                    let message = String(decoding: buffer[0..<n], as: UTF8.self)
                    state.received.withLock { $0.messages.append(message) }
                }
            }
            close(fd)
        }
    }

    deinit {
        state.received.withLock { $0.isClosed = true }
        // The reading thread closes the socket when it sees isClosed; a socket nobody reads is closed here.
        if !isReading { close(state.fd) }
        unlink(path)
    }

    /// The datagrams that arrived since the previous call, once `done` holds for them or 60 s have passed.
    public func receive(until done: @escaping @Sendable ([String]) -> Bool) async throws -> [String] {
        let deadline = ContinuousClock.now + .seconds(60)
        while true {
            let fresh = state.received.withLock { Array($0.messages[$0.cursor...]) }
            if done(fresh) || ContinuousClock.now >= deadline {
                state.received.withLock { $0.cursor += fresh.count }
                return fresh
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}
