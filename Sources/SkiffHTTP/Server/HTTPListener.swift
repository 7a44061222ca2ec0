import CLinux
import SkiffPOSIX

/// Accepts connections on one listening socket for one loop. The same socket is registered with every loop
/// (EPOLLEXCLUSIVE), so a second server on the same port fails to bind instead of silently sharing it.
///
/// Whichever loop wakes up accepts the whole backlog, so each accepted connection goes to the loop serving the
/// fewest (this one on a tie): without that, a burst of connects (a load generator, a pool warming up) lands on
/// one loop and the other cores stay idle for the connections' whole keep-alive life.
final class HTTPListener: EventLoopHandler {
    let fd: Int32
    let context: ServerLoopContext
    /// Every loop's context of this server, this one included.
    let siblings: [ServerLoopContext]

    init(fd: Int32, context: ServerLoopContext, siblings: [ServerLoopContext]) {
        self.fd = fd
        self.context = context
        self.siblings = siblings
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
            let target = leastLoaded()
            target.load.add(1, ordering: .relaxed)
            if target === context {
                target.adopt(client)
            } else {
                target.loop.execute { target.adopt(client) }
            }
        }
    }

    private func leastLoaded() -> ServerLoopContext {
        var best = context
        var bestLoad = context.load.load(ordering: .relaxed)
        for sibling in siblings where sibling !== context {
            let load = sibling.load.load(ordering: .relaxed)
            if load < bestLoad { (best, bestLoad) = (sibling, load) }
        }
        return best
    }
}
