import Foundation

/// What a NATS server sends a client.
enum ServerOperation: Equatable {
    case info([UInt8])
    case message(sid: UInt64, NATSMessage)
    case ping
    case pong
    case ok
    case error(String)
}

/// Reads server operations out of bytes as they arrive: whole operations only, the rest left for the next bytes.
/// Pure, so that every framing case is tested without a socket.
enum ServerParser {
    struct ProtocolError: Error, Equatable, CustomStringConvertible {
        var description: String
    }

    /// A control line longer than this without its CRLF is not NATS (nats-server's own limit is 4 KiB for a
    /// client's; INFO can be longer).
    static let maxControlLine = 64 * 1024

    /// The operations `input` holds in full, and how many bytes they took.
    static func parse(_ input: UnsafeBufferPointer<UInt8>, maxPayload: Int) throws(ProtocolError) -> (
        [ServerOperation], consumed: Int
    ) {
        var operations: [ServerOperation] = []
        var position = 0
        while position < input.count {
            guard let end = lineEnd(input, from: position) else {
                if input.count - position > maxControlLine {
                    throw ProtocolError(description: "a control line of over \(maxControlLine) bytes")
                }
                break
            }
            let line = UnsafeBufferPointer(rebasing: input[position..<end])
            let afterLine = end + 2
            let verb = line.prefix { $0 != 0x20 && $0 != 0x09 }.map { $0 | 0x20 }
            switch verb {
            case Array("msg".utf8), Array("hmsg".utf8):
                let frame = try messageFrame(line, withHeaders: verb.count == 4, maxPayload: maxPayload)
                let total = afterLine + frame.size + 2
                guard total <= input.count else { return (operations, position) }
                let body = Array(input[afterLine..<(afterLine + frame.size)])
                var message = NATSMessage(subject: frame.subject, reply: frame.reply, payload: body)
                if frame.headerSize > 0 {
                    guard let decoded = HeaderBlock.decode(body[..<frame.headerSize]) else {
                        throw ProtocolError(description: "an HMSG whose headers do not start with NATS/1.0")
                    }
                    message.status = decoded.status
                    message.headers = decoded.headers
                    message.payload = Array(body[frame.headerSize...])
                }
                operations.append(.message(sid: frame.sid, message))
                position = total
                continue
            case Array("ping".utf8): operations.append(.ping)
            case Array("pong".utf8): operations.append(.pong)
            case Array("+ok".utf8): operations.append(.ok)
            case Array("-err".utf8):
                let text = String(decoding: line.dropFirst(4), as: UTF8.self)
                    .trimmingCharacters(in: .whitespaces)
                operations.append(.error(text.trimmingCharacters(in: CharacterSet(charactersIn: "'"))))
            case Array("info".utf8):
                operations.append(.info(Array(line.dropFirst(4).drop { $0 == 0x20 || $0 == 0x09 })))
            default:
                throw ProtocolError(
                    description: "unknown operation '\(String(decoding: verb.prefix(16), as: UTF8.self))'")
            }
            position = afterLine
        }
        return (operations, position)
    }

    private static func lineEnd(_ input: UnsafeBufferPointer<UInt8>, from start: Int) -> Int? {
        var index = start
        while index + 1 < input.count {
            if input[index] == 0x0D && input[index + 1] == 0x0A { return index }
            index += 1
        }
        return nil
    }

    private struct Frame {
        var subject: String
        var sid: UInt64
        var reply: String?
        var headerSize: Int
        var size: Int
    }

    /// `MSG subject sid [reply] size` or `HMSG subject sid [reply] headerSize totalSize`.
    private static func messageFrame(
        _ line: UnsafeBufferPointer<UInt8>, withHeaders: Bool, maxPayload: Int
    ) throws(ProtocolError) -> Frame {
        let fields = line.split(whereSeparator: { $0 == 0x20 || $0 == 0x09 }).dropFirst()
        let counts = withHeaders ? 2 : 1
        guard fields.count == 2 + counts || fields.count == 3 + counts else {
            throw ProtocolError(description: "a malformed \(withHeaders ? "HMSG" : "MSG") line")
        }
        let values = Array(fields)
        func number(_ slice: Slice<UnsafeBufferPointer<UInt8>>) throws(ProtocolError) -> Int {
            guard !slice.isEmpty, slice.count <= 10, slice.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
                throw ProtocolError(description: "a size that is not a number")
            }
            return slice.reduce(0) { $0 * 10 + Int($1 - 0x30) }
        }
        guard let sid = UInt64(String(decoding: values[1], as: UTF8.self)) else {
            throw ProtocolError(description: "a subscription id that is not a number")
        }
        let size = try number(values[values.count - 1])
        let headerSize = withHeaders ? try number(values[values.count - 2]) : 0
        guard size <= maxPayload + 64 * 1024, headerSize <= size else {
            throw ProtocolError(description: "a message of \(size) bytes, over the server's max_payload")
        }
        let hasReply = values.count == 3 + counts
        return Frame(
            subject: String(decoding: values[0], as: UTF8.self), sid: sid,
            reply: hasReply ? String(decoding: values[2], as: UTF8.self) : nil, headerSize: headerSize, size: size)
    }
}
