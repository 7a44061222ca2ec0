/// Serialising response heads into bytes without Foundation.
enum ResponseEncoding {
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
        if value < 10 {
            out.append(UInt8(0x30 + value))
            return
        }
        var digits:
            (
                UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8
            ) =
                (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var count = 0
        var n = value
        withUnsafeMutableBytes(of: &digits) { buffer in
            while n > 0 {
                buffer[count] = UInt8(0x30 + n % 10)
                n /= 10
                count += 1
            }
            for i in stride(from: count - 1, through: 0, by: -1) { out.append(buffer[i]) }
        }
    }

    /// Appends a non-negative integer in lowercase hexadecimal (chunk sizes).
    static func appendHex(_ value: Int, to out: inout [UInt8]) {
        let digits: [UInt8] = Array("0123456789abcdef".utf8)
        var shift = (Int.bitWidth - value.leadingZeroBitCount + 3) / 4 * 4 - 4
        if shift < 0 { shift = 0 }
        while shift >= 0 {
            out.append(digits[(value >> shift) & 0xF])
            shift -= 4
        }
    }

    /// Which framing-relevant fields a handler already set, found in one pass.
    struct FieldFlags {
        var hasContentLength = false
        var hasDate = false
        var hasTransferEncoding = false
        var asksClose = false
        var contentLength: Int?
    }

    static func scan(_ headers: HTTPHeaders) -> FieldFlags {
        var flags = FieldFlags()
        headers.forEachField { name, value in
            switch name.count {
            case 4 where HTTPTokens.equalsIgnoringCase(name, "date"):
                flags.hasDate = true
            case 10 where HTTPTokens.equalsIgnoringCase(name, "connection"):
                if HTTPTokens.list(value, contains: "close") { flags.asksClose = true }
            case 14 where HTTPTokens.equalsIgnoringCase(name, "content-length"):
                flags.hasContentLength = true
                flags.contentLength = Int(String(decoding: value, as: UTF8.self))
            case 17 where HTTPTokens.equalsIgnoringCase(name, "transfer-encoding"):
                flags.hasTransferEncoding = true
            default:
                break
            }
        }
        return flags
    }
}
