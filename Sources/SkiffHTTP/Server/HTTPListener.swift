import CLinux
import Glibc
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
                if Self.exhaustion.contains(error.errno) { pauseAccepting(after: error) }
                // Anything else (a client that reset before it was accepted) concerns that client alone.
                return
            }
            guard let client else { return }
            backoff = Self.firstBackoff
            if let acceptsPeer = context.configuration.acceptsPeer {
                guard let peer = Socket.peerAddress(client), acceptsPeer(peer) else {
                    Socket.close(client)
                    continue
                }
            }
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

    // MARK: Running out of descriptors

    /// Errors that say the process or the system is out of descriptors or memory for a new socket.
    private static let exhaustion: Set<Int32> = [EMFILE, ENFILE, ENOBUFS, ENOMEM]
    private static let firstBackoff: UInt64 = 50_000_000
    private static let longestBackoff: UInt64 = 1_000_000_000
    private var backoff = firstBackoff

    /// The pending connection stays in the backlog and the socket stays readable, so retrying at once would wake
    /// this loop in a spin at full CPU. Instead the socket is taken out of this loop's watch for a back-off that
    /// doubles up to a second, and the server logs the episode once; descriptors freed meanwhile (connections
    /// closing) let it accept again.
    private func pauseAccepting(after error: SystemError) {
        context.server.acceptPaused(error)
        context.loop.deregister(fd)
        let delay = backoff
        backoff = min(backoff * 2, Self.longestBackoff)
        _ = context.loop.scheduleTimer(afterNanoseconds: delay) { [self] in
            guard !context.server.isClosing else { return }
            try? context.loop.register(fd, interest: .acceptExclusive, handler: self)
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
