import SkiffPOSIX

/// Bytes queued for a non-blocking socket, written as far as the socket takes them. Protocols append during a
/// loop tick and the connection flushes once at its end (or at once when past the high-water mark).
public struct OutboundBuffer {
    /// Queued bytes; protocols' encoders append to it directly. Bytes before `sent` are already written.
    public var bytes: [UInt8] = []
    private var sent = 0

    public init() {}

    /// Past this many unsent bytes a writer waits for the peer (backpressure) …
    public static let highWater = 256 * 1024
    /// … until fewer than this remain.
    public static let lowWater = highWater / 2

    public var unsentCount: Int { bytes.count - sent }
    public var isEmpty: Bool { sent == bytes.count }

    public enum FlushResult {
        /// Everything was written.
        case drained
        /// The socket is full; wait for writability.
        case wouldBlock
        case failed(SystemError)
    }

    public mutating func flush(to fd: Int32) -> FlushResult {
        while sent < bytes.count {
            do {
                switch try Socket.write(fd, bytes, from: sent) {
                case .processed(let n): sent += n
                case .wouldBlock: return .wouldBlock
                }
            } catch {
                return .failed(error)
            }
        }
        // Keep a modest buffer for the next message; let a large one go rather than pin it to an idle connection.
        bytes.removeAll(keepingCapacity: bytes.capacity <= 64 * 1024)
        sent = 0
        return .drained
    }

    public mutating func discardAll() {
        bytes = []
        sent = 0
    }
}
