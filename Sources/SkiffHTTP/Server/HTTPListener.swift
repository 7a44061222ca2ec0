import CLinux
import SkiffPOSIX

/// Accepts connections on one listening socket for one loop. The same socket is registered with every loop
/// (EPOLLEXCLUSIVE), so a second server on the same port fails to bind instead of silently sharing it.
final class HTTPListener: EventLoopHandler {
    let fd: Int32
    let context: ServerLoopContext

    init(fd: Int32, context: ServerLoopContext) {
        self.fd = fd
        self.context = context
    }

    private static let overloaded: [UInt8] = {
        var bytes: [UInt8] = []
        WireEncoding.appendClosingText(
            .serviceUnavailable, "the server is at its connection limit; retry shortly", dateLine: [], to: &bytes)
        return bytes
    }()

    func handleEvents(_ events: UInt32) {
        // A bounded batch per wake-up keeps accepting fair to the connections already open.
        for _ in 0..<32 {
            let client: Int32?
            do {
                client = try Socket.accept(fd)
            } catch {
                // EMFILE/ENFILE and friends: nothing to accept now; the next readiness retries.
                return
            }
            guard let client else { return }
            guard context.server.reserveConnection() else {
                _ = Self.overloaded.withUnsafeBytes { try? Socket.write(client, from: $0) }
                Socket.close(client)
                continue
            }
            Socket.setNoDelay(client)
            context.adopt(client)
        }
    }
}
