/// Chunked framing: size lines (extensions ignored), data, the CRLF after each chunk and the trailer section, fed
/// incrementally like the head.
extension HTTPParser {

    mutating func parseChunked(_ input: UnsafeBufferPointer<UInt8>, _ start: Chunk) throws(HTTPParseError)
        -> Result
    {
        var chunk = start
        var i = 0
        while i < input.count {
            let byte = input[i]
            switch chunk {
            case .size(let value, let digits):
                if let hex = Self.hexValue(byte) {
                    guard digits < 15 else { throw HTTPParseError(.malformed, "a chunk size is too large") }
                    chunk = .size(value: value * 16 + hex, digits: digits + 1)
                } else if digits == 0 {
                    throw HTTPParseError(.malformed, "a chunk must start with a hexadecimal size")
                } else if byte == 0x3B || byte == 0x20 || byte == 0x09 {
                    chunk = .sizeExtension(length: 0)
                    stashedSize = value
                } else if byte == 0x0D {
                    stashedSize = value
                    chunk = .sizeLF
                } else if byte == 0x0A {
                    stashedSize = value
                    chunk = afterSizeLine()
                } else {
                    throw HTTPParseError(.malformed, "invalid character in a chunk size")
                }
            case .sizeExtension(let length):
                if byte == 0x0D {
                    chunk = .sizeLF
                } else if byte == 0x0A {
                    chunk = afterSizeLine()
                } else if (byte < 0x20 && byte != 0x09) || byte == 0x7F {
                    throw HTTPParseError(.malformed, "a control character in a chunk extension")
                } else {
                    guard length < 4096 else { throw HTTPParseError(.malformed, "a chunk extension is too long") }
                    chunk = .sizeExtension(length: length + 1)
                }
            case .sizeLF:
                guard byte == 0x0A else { throw HTTPParseError(.malformed, "a chunk size line must end with CRLF") }
                chunk = afterSizeLine()
            case .data(let remaining):
                let n = min(remaining, input.count - i)
                state = .chunked(remaining == n ? .dataCR : .data(remaining: remaining - n))
                return Result(event: .body(i..<(i + n)), consumed: i + n)
            case .dataCR:
                if byte == 0x0D {
                    chunk = .dataLF
                } else if byte == 0x0A {
                    chunk = .size(value: 0, digits: 0)
                } else {
                    throw HTTPParseError(.malformed, "chunk data must be followed by CRLF")
                }
            case .dataLF:
                guard byte == 0x0A else { throw HTTPParseError(.malformed, "chunk data must be followed by CRLF") }
                chunk = .size(value: 0, digits: 0)
            case .trailerLineStart(let total):
                if byte == 0x0D {
                    chunk = .trailerLF(total: total, lineIsEmpty: true)
                } else if byte == 0x0A {
                    return finishChunked(consumed: i + 1)
                } else {
                    chunk = .trailerLine(total: total + 1)
                }
            case .trailerLine(let total):
                guard total < maxHeadBytes else {
                    throw HTTPParseError(.headTooLarge, "the chunked trailer section is too large")
                }
                if byte == 0x0D {
                    chunk = .trailerLF(total: total, lineIsEmpty: false)
                } else if byte == 0x0A {
                    chunk = .trailerLineStart(total: total)
                } else if (byte < 0x20 && byte != 0x09) || byte == 0x7F {
                    throw HTTPParseError(.malformed, "a control character in a trailer field")
                } else {
                    chunk = .trailerLine(total: total + 1)
                }
            case .trailerLF(let total, let lineIsEmpty):
                guard byte == 0x0A else { throw HTTPParseError(.malformed, "a trailer line must end with CRLF") }
                if lineIsEmpty { return finishChunked(consumed: i + 1) }
                chunk = .trailerLineStart(total: total)
            }
            i += 1
        }
        state = .chunked(chunk)
        return Result(event: .needMore, consumed: i)
    }

    /// The size parsed on the current size line, kept while the rest of the line is skipped.

    func afterSizeLine() -> Chunk {
        stashedSize == 0 ? .trailerLineStart(total: 0) : .data(remaining: stashedSize)
    }

    mutating func finishChunked(consumed: Int) -> Result {
        state = .head(scanned: 0)
        expectsNoBody = false
        return Result(event: .end, consumed: consumed)
    }

    @inline(__always)
    static func hexValue(_ byte: UInt8) -> Int? {
        switch byte {
        case 0x30...0x39: return Int(byte - 0x30)
        case 0x41...0x46: return Int(byte - 0x41 + 10)
        case 0x61...0x66: return Int(byte - 0x61 + 10)
        default: return nil
        }
    }
}
