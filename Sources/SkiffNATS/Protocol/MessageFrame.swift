/// The frames the server writes: MSG and HMSG to subscribers, and its own short lines.
enum MessageFrame {
    /// `MSG subject sid [reply] size` and the payload, or `HMSG subject sid [reply] hdr total` and headers and
    /// payload when the message has headers and the subscriber's connection takes them; a subscriber without
    /// headers gets the payload alone.
    static func append(
        to out: inout [UInt8], subject: UnsafeBufferPointer<UInt8>, sid: [UInt8], reply: UnsafeBufferPointer<UInt8>?,
        headerLength: Int?, message: UnsafeBufferPointer<UInt8>, subscriberTakesHeaders: Bool
    ) {
        var body = message
        var headers: Int?
        if let headerLength, headerLength > 0 {
            if subscriberTakesHeaders {
                headers = headerLength
            } else {
                body = UnsafeBufferPointer(rebasing: message[headerLength...])
            }
        }
        if headers != nil { out.append(UInt8(ascii: "H")) }
        out.append(UInt8(ascii: "M"))
        out.append(UInt8(ascii: "S"))
        out.append(UInt8(ascii: "G"))
        out.append(0x20)
        out.append(contentsOf: subject)
        out.append(0x20)
        out.append(contentsOf: sid)
        if let reply {
            out.append(0x20)
            out.append(contentsOf: reply)
        }
        if let headers {
            out.append(0x20)
            appendDecimal(headers, to: &out)
        }
        out.append(0x20)
        appendDecimal(body.count, to: &out)
        out.append(0x0D)
        out.append(0x0A)
        out.append(contentsOf: body)
        out.append(0x0D)
        out.append(0x0A)
    }

    /// The no-responders answer nats-server 2.9 sends to the requester's reply subscription: a 503 status
    /// and nothing else.
    static func appendNoResponders(to out: inout [UInt8], reply: UnsafeBufferPointer<UInt8>, sid: [UInt8]) {
        out.append(contentsOf: Array("HMSG ".utf8))
        out.append(contentsOf: reply)
        out.append(0x20)
        out.append(contentsOf: sid)
        out.append(contentsOf: Array(" 16 16\r\nNATS/1.0 503\r\n\r\n\r\n".utf8))
    }

    static let ok: [UInt8] = Array("+OK\r\n".utf8)
    static let ping: [UInt8] = Array("PING\r\n".utf8)
    static let pong: [UInt8] = Array("PONG\r\n".utf8)

    /// `-ERR '<text>'`: always in single quotes (nats.py's pattern requires them).
    static func error(_ text: String) -> [UInt8] { Array("-ERR '\(text)'\r\n".utf8) }

    static func appendDecimal(_ value: Int, to out: inout [UInt8]) {
        guard value >= 0 && value < 1_000_000_000 else {
            out.append(contentsOf: Array(String(value).utf8))
            return
        }
        var divisor = 1
        while divisor * 10 <= value { divisor *= 10 }
        var remaining = value
        while divisor > 0 {
            out.append(UInt8(truncatingIfNeeded: 0x30 + remaining / divisor))
            remaining %= divisor
            divisor /= 10
        }
    }
}
