/// One complete operation a client sent, its fields pointing into the bytes it was parsed from (valid only
/// until the handler returns).
enum ClientOperation {
    case connect(json: UnsafeBufferPointer<UInt8>)
    /// `PUB`, or `HPUB` when `headerLength` is set: `message` is the headers (that many bytes) then the payload.
    case publish(
        subject: UnsafeBufferPointer<UInt8>, reply: UnsafeBufferPointer<UInt8>?, headerLength: Int?,
        message: UnsafeBufferPointer<UInt8>)
    case subscribe(
        subject: UnsafeBufferPointer<UInt8>, queue: UnsafeBufferPointer<UInt8>?, sid: UnsafeBufferPointer<UInt8>)
    case unsubscribe(sid: UnsafeBufferPointer<UInt8>, max: Int?)
    case ping
    case pong
    /// `+OK` from a client: ignored.
    case ok
    /// `-ERR` from a client: the connection is closed without an answer.
    case error
    /// `INFO` from a client: ignored when its JSON is valid.
    case info(json: UnsafeBufferPointer<UInt8>)
}

/// Why a client's bytes end its connection, and what it is told (nats-server's words and choices).
enum ProtocolViolation: Error, Equatable {
    /// `-ERR 'Unknown Protocol Operation'`: an unknown op, whitespace before the op, an empty line, an op only
    /// a server sends, a payload not followed by CRLF.
    case unknownOperation
    /// `-ERR 'maximum control line exceeded'`.
    case controlLineTooLong
    /// `-ERR 'Maximum Payload Violation'`: the size in the PUB or HPUB line is over the limit.
    case payloadTooLarge
    /// Closed without a word: wrong argument count (UNSUB without a sid included), a size that is not a number,
    /// HPUB header size over its total (nats-server does the same).
    case malformedArguments

    /// The `-ERR` text, nil for a silent close.
    var errorText: String? {
        switch self {
        case .unknownOperation: "Unknown Protocol Operation"
        case .controlLineTooLong: "maximum control line exceeded"
        case .payloadTooLarge: "Maximum Payload Violation"
        case .malformedArguments: nil
        }
    }
}
