import SkiffNet

/// What HTTP's server and client connections share on top of the transport: a parser, and what to do when the
/// peer's bytes are not HTTP.
protocol HTTPStreamHandler: StreamHandler {
    var parser: HTTPParser { get set }
    /// The peer's bytes are not valid HTTP; the connection answers or fails, and closes.
    func parseFailed(_ error: HTTPParseError)
}

extension HTTPStreamHandler {
    /// Bodies up to this size that arrive with their head are delivered as bytes rather than as a stream.
    static var inlineBodyLimit: Int { 64 * 1024 }

    /// The next parser event from `input[offset...]`, advancing `offset` past what it consumed, with the offset the
    /// event's body range is relative to. Nil when more input is needed, or when parsing failed: then
    /// ``parseFailed(_:)`` has been called and `offset` is at the end of the input.
    func nextEvent(in input: UnsafeBufferPointer<UInt8>, at offset: inout Int) -> (
        event: HTTPParser.Event, base: Int
    )? {
        while true {
            let result: HTTPParser.Result
            do {
                result = try parser.parse(UnsafeBufferPointer(rebasing: input[offset...]))
            } catch {
                offset = input.count
                parseFailed(error)
                return nil
            }
            let base = offset
            offset += result.consumed
            // Framing or empty lines consumed but no event yet: the rest of the input may hold one.
            if result.event == .needMore {
                if result.consumed == 0 { return nil }
                continue
            }
            return (result.event, base)
        }
    }
}

extension OutboundBuffer {
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
}
