import SkiffPOSIX

/// Bytes queued for a non-blocking socket, written as far as the socket takes them. Shared by server and client
/// connections: they append during a loop tick and flush once at its end (or when past the high-water mark).
struct OutboundBuffer {
    /// Queued bytes; appended to directly by the encoders. Bytes before `sent` are already written.
    var bytes: [UInt8] = []
    private var sent = 0

    /// Past this many unsent bytes a writer waits for the peer (backpressure) …
    static let highWater = 256 * 1024
    /// … until fewer than this remain.
    static let lowWater = highWater / 2

    var unsentCount: Int { bytes.count - sent }
    var isEmpty: Bool { sent == bytes.count }

    /// Appends body bytes, framed as one chunk when `chunked` (an empty piece is skipped: it would end the body).
    mutating func appendBody(_ piece: some Collection<UInt8>, chunked: Bool) {
        guard !piece.isEmpty else { return }
        if chunked {
            WireEncoding.appendHex(piece.count, to: &bytes)
            bytes.append(contentsOf: WireEncoding.crlf)
            bytes.append(contentsOf: piece)
            bytes.append(contentsOf: WireEncoding.crlf)
        } else {
            bytes.append(contentsOf: piece)
        }
    }

    enum FlushResult {
        /// Everything was written.
        case drained
        /// The socket is full; wait for writability.
        case wouldBlock
        case failed(SystemError)
    }

    mutating func flush(to fd: Int32) -> FlushResult {
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
        // Keep a modest buffer for the next response; let a large one go rather than pin it to an idle connection.
        bytes.removeAll(keepingCapacity: bytes.capacity <= 64 * 1024)
        sent = 0
        return .drained
    }

    mutating func discardAll() {
        bytes = []
        sent = 0
    }
}
