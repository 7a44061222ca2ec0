/// Where a streamed response body goes. Implemented by the server connection.
protocol HTTPBodySink: AnyObject, Sendable {
    func writeBody(_ bytes: ArraySlice<UInt8>, generation: UInt64) async throws
    func flushBody(generation: UInt64) async throws
}

/// Writes a streamed response body. Each write is framed (chunked, or counted against Content-Length) and
/// sent by the end of the loop tick; a write suspends while the peer is slow (backpressure).
public struct HTTPBodyWriter: Sendable {
    let sink: any HTTPBodySink
    let generation: UInt64

    public func write(_ bytes: [UInt8]) async throws {
        try await sink.writeBody(bytes[...], generation: generation)
    }

    public func write(_ bytes: ArraySlice<UInt8>) async throws {
        try await sink.writeBody(bytes, generation: generation)
    }

    public func write(_ text: String) async throws {
        try await write(Array(text.utf8))
    }

    /// Sends what was written so far now, instead of at the end of the tick.
    public func flush() async throws {
        try await sink.flushBody(generation: generation)
    }
}

/// Why writing a response failed.
public enum HTTPWriteError: Error, Equatable, CustomStringConvertible {
    /// The peer closed or reset the connection; stop producing.
    case connectionClosed
    /// The writer belongs to a response that has already ended.
    case responseEnded
    /// More or fewer bytes than the declared Content-Length were written.
    case lengthMismatch(declared: Int, written: Int)

    public var description: String {
        switch self {
        case .connectionClosed: return "the client closed the connection"
        case .responseEnded: return "the response has already ended"
        case .lengthMismatch(let declared, let written):
            return "the body was declared as \(declared) bytes but \(written) were written"
        }
    }
}
