/// Writing HTTP/1.1 message heads and body framing as bytes, without Foundation: responses on the server,
/// requests on the client.
enum WireEncoding {
    /// `HTTP/1.1 CODE REASON\r\n` for every standard code, built once.
    private static let statusLines: [[UInt8]] = (0..<600).map { code in
        Array("HTTP/1.1 \(code) \(HTTPStatus.standardReason(code))\r\n".utf8)
    }

    static func appendStatusLine(_ status: HTTPStatus, to out: inout [UInt8]) {
        if status.code >= 100 && status.code < 600 && status.reasonPhrase == HTTPStatus.standardReason(status.code) {
            out.append(contentsOf: statusLines[status.code])
        } else {
            out.append(contentsOf: "HTTP/1.1 \(status.code) \(status.reasonPhrase)\r\n".utf8)
        }
    }

    static let contentLengthPrefix = Array("Content-Length: ".utf8)
    static let chunkedLine = Array("Transfer-Encoding: chunked\r\n".utf8)
    static let closeLine = Array("Connection: close\r\n".utf8)
    static let keepAliveLine = Array("Connection: keep-alive\r\n".utf8)
    static let continueResponse = Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)
    static let lastChunk = Array("0\r\n\r\n".utf8)
    static let crlf: [UInt8] = [0x0D, 0x0A]

    /// Appends a non-negative integer in decimal.
    static func appendDecimal(_ value: Int, to out: inout [UInt8]) {
        let start = out.count
        var n = value
        repeat {
            out.append(UInt8(0x30 + n % 10))
            n /= 10
        } while n > 0
        out[start...].reverse()
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    /// Appends a non-negative integer in lowercase hexadecimal (chunk sizes).
    static func appendHex(_ value: Int, to out: inout [UInt8]) {
        var shift = max(0, (Int.bitWidth - value.leadingZeroBitCount + 3) / 4 * 4 - 4)
        while shift >= 0 {
            out.append(hexDigits[(value >> shift) & 0xF])
            shift -= 4
        }
    }

    /// Appends `Content-Length: N\r\n`.
    static func appendContentLength(_ length: Int, to out: inout [UInt8]) {
        out.append(contentsOf: contentLengthPrefix)
        appendDecimal(length, to: &out)
        out.append(contentsOf: crlf)
    }

    /// Appends a complete plain-text answer that closes the connection (errors the server sends on its own,
    /// outside any handler). `dateLine` is a `Date:` line, or empty.
    static func appendClosingText(_ status: HTTPStatus, _ message: String, dateLine: [UInt8], to out: inout [UInt8]) {
        let response = HTTPResponse.text(status, message)
        appendStatusLine(status, to: &out)
        response.headers.write(into: &out)
        guard case .bytes(let body) = response.body.storage else { return }
        appendContentLength(body.count, to: &out)
        out.append(contentsOf: dateLine)
        out.append(contentsOf: closeLine)
        out.append(contentsOf: crlf)
        out.append(contentsOf: body)
    }

    /// Which framing-relevant fields a handler already set, found in one pass.
    struct FieldFlags {
        var hasContentLength = false
        var hasDate = false
        var hasTransferEncoding = false
        var hasHost = false
        var asksClose = false
        var contentLength: Int?
    }

    static func scan(_ headers: HTTPHeaders) -> FieldFlags {
        var flags = FieldFlags()
        headers.forEachField { name, value in
            switch name.count {
            case 4 where HTTPTokens.equalsIgnoringCase(name, "date"):
                flags.hasDate = true
            case 4 where HTTPTokens.equalsIgnoringCase(name, "host"):
                flags.hasHost = true
            case 10 where HTTPTokens.equalsIgnoringCase(name, "connection"):
                if HTTPTokens.list(value, contains: "close") { flags.asksClose = true }
            case 14 where HTTPTokens.equalsIgnoringCase(name, "content-length"):
                flags.hasContentLength = true
                flags.contentLength = HTTPTokens.decimalValue(value)
            case 17 where HTTPTokens.equalsIgnoringCase(name, "transfer-encoding"):
                flags.hasTransferEncoding = true
            default:
                break
            }
        }
        return flags
    }
}
