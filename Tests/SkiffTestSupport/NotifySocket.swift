import Foundation
import Glibc
import SkiffPOSIX

/// A datagram socket standing in for systemd's notify socket (or journald's).
public final class NotifySocket: Sendable {
    public let path: String
    let fd: Int32

    public init(path: String = "/tmp/skiff-daemon-notify-\(getpid()).sock") throws {
        self.path = path
        unlink(path)
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
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
        guard bound == 0 else { throw SystemError(call: "bind", errno: errno) }
        var timeout = timeval(tv_sec: 0, tv_usec: 200_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit {
        close(fd)
        unlink(path)
    }

    /// Datagrams received until `done` holds for them or 60 s pass (bounded).
    public func receive(until done: @escaping @Sendable ([String]) -> Bool) async throws -> [String] {
        let fd = self.fd
        return try await PosixThread.run(name: "test-notify") { () -> [String] in
            var messages: [String] = []
            var buffer = [UInt8](repeating: 0, count: 4096)
            let deadline = Date().addingTimeInterval(60)
            while !done(messages) && Date() < deadline {
                let n = recv(fd, &buffer, buffer.count, 0)
                if n > 0 { messages.append(String(decoding: buffer[0..<n], as: UTF8.self)) }
            }
            return messages
        }
    }
}
