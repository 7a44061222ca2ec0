import Glibc
import SkiffPOSIX

extension StreamAcceptor {
    /// Accepts on one listening socket for one loop. Whichever loop wakes up accepts the whole backlog, so each
    /// accepted connection goes to the loop serving the fewest (this one on a tie): without that, a burst of
    /// connects (a load generator, a pool warming up) lands on one loop and the other cores stay idle for the
    /// connections' whole keep-alive life.
    final class Listener: EventLoopHandler {
        let fd: Int32
        let loop: EventLoop
        let owner: StreamAcceptor

        init(fd: Int32, loop: EventLoop, owner: StreamAcceptor) {
            self.fd = fd
            self.loop = loop
            self.owner = owner
        }

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
                if let acceptsPeer = owner.configuration.acceptsPeer {
                    guard let peer = Socket.peerAddress(client), acceptsPeer(peer) else {
                        Socket.close(client)
                        continue
                    }
                }
                Socket.setNoDelay(client)
                owner.adoptConnected(client, preferring: loop)
            }
        }

        // MARK: Running out of descriptors

        /// Errors that say the process or the system is out of descriptors or memory for a new socket.
        private static let exhaustion: Set<Int32> = [EMFILE, ENFILE, ENOBUFS, ENOMEM]
        private static let firstBackoff: UInt64 = 50_000_000
        private static let longestBackoff: UInt64 = 1_000_000_000
        private var backoff = firstBackoff

        /// The pending connection stays in the backlog and the socket stays readable, so retrying at once would
        /// wake this loop in a spin at full CPU. Instead the socket is taken out of this loop's watch for a back-off
        /// that doubles up to a second, and the owner logs the episode once; descriptors freed meanwhile
        /// (connections closing) let it accept again.
        private func pauseAccepting(after error: SystemError) {
            owner.acceptPaused(error)
            loop.deregister(fd)
            let delay = backoff
            backoff = min(backoff * 2, Self.longestBackoff)
            _ = loop.scheduleTimer(afterNanoseconds: delay) { [self] in
                guard !owner.isStopping else { return }
                try? loop.register(fd, interest: .acceptExclusive, handler: self)
            }
        }
    }
}
