/// An incremental HTTP/1.x parser for requests (server side) or responses (client side).
///
/// Feed it the unconsumed bytes; each call returns one event and how many bytes it consumed. The caller drops
/// the consumed bytes and calls again with what is left plus anything newly read. It never buffers on its own,
/// so a body of any size streams through in pieces, and a message split at any byte boundary parses the same.
/// Events per message: one head, zero or more body ranges, one end. Then the next message starts.
public struct HTTPParser: Sendable {
    public enum Kind: Sendable { case request, response }

    public enum Event: Equatable, Sendable {
        /// More bytes are needed. When `consumed` is not 0 (framing or leading empty lines were skipped),
        /// drop those bytes and call again: the rest of the input may hold more.
        case needMore
        case requestHead(HTTPRequestHead)
        case responseHead(HTTPResponseHead)
        /// Body bytes: this range of the input buffer.
        case body(Range<Int>)
        /// The message is complete.
        case end
    }

    public struct Result: Equatable, Sendable {
        public var event: Event
        public var consumed: Int
    }

    public let kind: Kind
    /// Limit on the request or status line plus header fields (and on a chunked body's trailers).
    public var maxHeadBytes: Int
    /// For responses: set before the response arrives when the request was HEAD, so no body is expected.
    public var expectsNoBody = false

    var state: State = .head(scanned: 0)

    enum State: Sendable {
        case head(scanned: Int)
        case endPending
        case length(remaining: Int)
        case chunked(Chunk)
        case untilClose
    }

    enum Chunk: Sendable {
        case size(value: Int, digits: Int)
        case sizeExtension(length: Int)
        case sizeLF
        case data(remaining: Int)
        case dataCR
        case dataLF
        case trailerLineStart(total: Int)
        case trailerLine(total: Int)
        case trailerLF(total: Int, lineIsEmpty: Bool)
    }

    public init(kind: Kind, maxHeadBytes: Int = 64 * 1024) {
        self.kind = kind
        self.maxHeadBytes = maxHeadBytes
    }

    /// Right after a head whose body has a known length: when all `n` body bytes are in `input`, consumes them
    /// and the end of the message, and returns their range; otherwise returns nil and changes nothing.
    /// Lets a connection hand a small body over whole instead of streaming it.
    public mutating func takeBufferedBody(_ input: UnsafeBufferPointer<UInt8>, limit: Int) -> Range<Int>? {
        guard case .length(let n) = state, n <= limit, input.count >= n else { return nil }
        state = .head(scanned: 0)
        expectsNoBody = false
        return 0..<n
    }

    /// Resets to wait for a new message (after an error, or when a connection is reused).
    public mutating func reset() {
        state = .head(scanned: 0)
        expectsNoBody = false
    }

    /// The peer closed. Returns `.end` when that completes a close-delimited body; throws when a message was cut off.
    /// Returns `.needMore` when the close came cleanly between messages.
    public mutating func finish(bufferedBytes: Int) throws(HTTPParseError) -> Event {
        switch state {
        case .untilClose:
            state = .head(scanned: 0)
            return .end
        case .head where bufferedBytes == 0:
            return .needMore
        case .endPending:
            state = .head(scanned: 0)
            return .end
        default:
            throw HTTPParseError(.truncated, "the connection closed in the middle of a message")
        }
    }

    // MARK: Parsing

    public mutating func parse(_ input: UnsafeBufferPointer<UInt8>) throws(HTTPParseError) -> Result {
        switch state {
        case .head(let scanned):
            return try parseHead(input, scanned: scanned)
        case .endPending:
            state = .head(scanned: 0)
            expectsNoBody = false
            return Result(event: .end, consumed: 0)
        case .length(let remaining):
            let n = min(remaining, input.count)
            if n == 0 { return Result(event: .needMore, consumed: 0) }
            state = remaining == n ? .endPending : .length(remaining: remaining - n)
            return Result(event: .body(0..<n), consumed: n)
        case .untilClose:
            if input.isEmpty { return Result(event: .needMore, consumed: 0) }
            return Result(event: .body(0..<input.count), consumed: input.count)
        case .chunked(let chunk):
            return try parseChunked(input, chunk)
        }
    }

    private mutating func parseHead(_ input: UnsafeBufferPointer<UInt8>, scanned: Int) throws(HTTPParseError) -> Result
    {
        // Skip empty lines before a request line (RFC 9112 §2.2); a peer may send a CRLF after a body.
        var start = 0
        if scanned == 0 {
            while start < input.count && (input[start] == 0x0D || input[start] == 0x0A) {
                if input[start] == 0x0D && (start + 1 >= input.count || input[start + 1] != 0x0A) { break }
                start += input[start] == 0x0D ? 2 : 1
            }
            if start > 0 { return Result(event: .needMore, consumed: start) }
        }
        guard let end = Self.findHeadEnd(input, from: scanned) else {
            if input.count > maxHeadBytes {
                throw HTTPParseError(.headTooLarge, "the request line and headers exceed \(maxHeadBytes) bytes")
            }
            state = .head(scanned: max(0, input.count - 3))
            return Result(event: .needMore, consumed: 0)
        }
        if end > maxHeadBytes {
            throw HTTPParseError(.headTooLarge, "the request line and headers exceed \(maxHeadBytes) bytes")
        }
        let head = UnsafeBufferPointer(rebasing: input[0..<end])
        switch kind {
        case .request:
            let request = try Self.parseRequestHead(head)
            enterBody(request.framing)
            return Result(event: .requestHead(request), consumed: end)
        case .response:
            var response = try Self.parseResponseHead(head, noBody: expectsNoBody)
            if response.status.code >= 100 && response.status.code < 200 {
                // An interim response (100 Continue); the final one follows. expectsNoBody stays as it is.
                state = .head(scanned: 0)
                response.framing = .none
                return Result(event: .responseHead(response), consumed: end)
            }
            enterBody(response.framing)
            return Result(event: .responseHead(response), consumed: end)
        }
    }

    private mutating func enterBody(_ framing: HTTPBodyFraming) {
        switch framing {
        case .none, .length(0): state = .endPending
        case .length(let n): state = .length(remaining: n)
        case .chunked: state = .chunked(.size(value: 0, digits: 0))
        case .untilClose: state = .untilClose
        }
    }

    /// Index just past the empty line that ends the head, or nil. Accepts CRLF or bare LF line ends.
    static func findHeadEnd(_ input: UnsafeBufferPointer<UInt8>, from scanned: Int) -> Int? {
        var i = scanned
        let count = input.count
        while i < count {
            if input[i] == 0x0A {
                if i + 1 < count && input[i + 1] == 0x0A { return i + 2 }
                if i + 2 < count && input[i + 1] == 0x0D && input[i + 2] == 0x0A { return i + 3 }
                if i + 1 >= count || (i + 2 >= count && input[i + 1] == 0x0D) { return nil }
            }
            i += 1
        }
        return nil
    }

    // MARK: Start lines and fields

    private static func parseRequestHead(_ head: UnsafeBufferPointer<UInt8>) throws(HTTPParseError) -> HTTPRequestHead {
        var lines = LineReader(head)
        guard let line = lines.next() else { throw HTTPParseError(.malformed, "empty request") }
        // method SP request-target SP HTTP-version
        guard let sp1 = line.firstIndex(of: 0x20), sp1 > line.startIndex else {
            throw HTTPParseError(.malformed, "the request line must be 'METHOD TARGET HTTP/1.1'")
        }
        let methodBytes = UnsafeBufferPointer(rebasing: line[line.startIndex..<sp1])
        for byte in methodBytes where !isTokenByte(byte) {
            throw HTTPParseError(.malformed, "the method contains a character not allowed in a token")
        }
        let rest = line[(sp1 + 1)...]
        guard let sp2 = rest.firstIndex(of: 0x20), sp2 > rest.startIndex else {
            throw HTTPParseError(.malformed, "the request line must be 'METHOD TARGET HTTP/1.1'")
        }
        let targetBytes = UnsafeBufferPointer(rebasing: rest[rest.startIndex..<sp2])
        for byte in targetBytes where byte <= 0x20 || byte >= 0x7F {
            throw HTTPParseError(.malformed, "the request target contains a space, control or non-ASCII byte")
        }
        let version = try parseVersion(UnsafeBufferPointer(rebasing: rest[(sp2 + 1)...]))
        var fields = try parseFields(&lines)
        let method = HTTPMethod.make(methodBytes)
        let target = try RequestTarget.normalize(targetBytes, method: method)

        if version.minor == 1 && !fields.hasHost {
            throw HTTPParseError(.malformed, "an HTTP/1.1 request must have a Host header")
        }
        let framing: HTTPBodyFraming
        if let codings = fields.transferEncoding {
            if fields.contentLength != nil {
                throw HTTPParseError(.malformed, "a request must not have both Transfer-Encoding and Content-Length")
            }
            guard codings == .chunkedOnly else {
                throw HTTPParseError(.unsupportedTransferEncoding, "only 'Transfer-Encoding: chunked' is supported")
            }
            framing = .chunked
            if version.minor == 0 { fields.keepAlive = false }
        } else if let length = fields.contentLength {
            framing = length == 0 ? .none : .length(length)
        } else {
            framing = .none
        }
        let keepAlive = version.minor == 1 ? !fields.connectionClose : fields.connectionKeepAlive
        return HTTPRequestHead(
            method: method, target: target, version: version, headers: fields.headers,
            keepAlive: keepAlive && fields.keepAlive, expectsContinue: fields.expectsContinue,
            framing: framing)
    }

    private static func parseResponseHead(_ head: UnsafeBufferPointer<UInt8>, noBody: Bool) throws(HTTPParseError)
        -> HTTPResponseHead
    {
        var lines = LineReader(head)
        guard let line = lines.next(), line.count >= 12 else {
            throw HTTPParseError(.malformed, "the status line must be 'HTTP/1.1 CODE REASON'")
        }
        let s = line.startIndex
        let version = try parseVersion(UnsafeBufferPointer(rebasing: line[s..<(s + 8)]))
        guard line[s + 8] == 0x20 else {
            throw HTTPParseError(.malformed, "the status line must be 'HTTP/1.1 CODE REASON'")
        }
        var code = 0
        for i in (s + 9)..<(s + 12) {
            let digit = line[i] &- 0x30
            guard digit < 10 else { throw HTTPParseError(.malformed, "the status code must be three digits") }
            code = code * 10 + Int(digit)
        }
        var reason = ""
        if line.count > 12 {
            guard line[s + 12] == 0x20 else { throw HTTPParseError(.malformed, "the status code must be three digits") }
            let reasonBytes = UnsafeBufferPointer(rebasing: line[(s + 13)...])
            // RFC 9112's reason-phrase: HTAB, SP, visible and non-ASCII bytes. A CR or NUL relayed from a function
            // would split or end the status line a client reads.
            for byte in reasonBytes where (byte < 0x20 && byte != 0x09) || byte == 0x7F {
                throw HTTPParseError(.malformed, "the reason phrase contains a control character")
            }
            reason = String(decoding: reasonBytes, as: UTF8.self)
        }
        let status = HTTPStatus(code: code, reasonPhrase: reason.isEmpty ? nil : reason)
        let fields = try parseFields(&lines)
        let framing: HTTPBodyFraming
        if noBody || !status.mayHaveBody {
            framing = .none
        } else if let codings = fields.transferEncoding {
            framing = codings == .unsupported ? .untilClose : .chunked
        } else if let length = fields.contentLength {
            framing = length == 0 ? .none : .length(length)
        } else {
            framing = .untilClose
        }
        var keepAlive = version.minor == 1 ? !fields.connectionClose : fields.connectionKeepAlive
        if case .untilClose = framing { keepAlive = false }
        return HTTPResponseHead(
            version: version, status: status, headers: fields.headers, keepAlive: keepAlive, framing: framing)
    }

    private static func parseVersion(_ bytes: UnsafeBufferPointer<UInt8>) throws(HTTPParseError) -> HTTPVersion {
        guard bytes.count == 8, bytes[0] == 0x48, bytes[1] == 0x54, bytes[2] == 0x54, bytes[3] == 0x50,
            bytes[4] == 0x2F,
            bytes[6] == 0x2E, bytes[5] &- 0x30 < 10, bytes[7] &- 0x30 < 10
        else {
            throw HTTPParseError(.malformed, "the HTTP version must look like 'HTTP/1.1'")
        }
        let version = HTTPVersion(major: Int(bytes[5] - 0x30), minor: Int(bytes[7] - 0x30))
        guard version.major == 1, version.minor <= 1 else {
            throw HTTPParseError(.unsupportedVersion, "only HTTP/1.0 and HTTP/1.1 are supported, not \(version)")
        }
        return version
    }

    private enum Codings: Equatable { case chunkedOnly, unsupported }

    private struct Fields {
        var headers: HTTPHeaders
        var contentLength: Int?
        var transferEncoding: Codings?
        var connectionClose = false
        var connectionKeepAlive = false
        var expectsContinue = false
        var hasHost = false
        var keepAlive = true
    }

    private static func parseFields(_ lines: inout LineReader) throws(HTTPParseError) -> Fields {
        var storage: [UInt8] = []
        storage.reserveCapacity(lines.remaining)
        var ranges: [HTTPHeaders.Field] = []
        ranges.reserveCapacity(16)  // one allocation for a typical head instead of one per doubling
        var result = Fields(headers: HTTPHeaders())
        var teItems: [Slice<UnsafeBufferPointer<UInt8>>] = []
        while let line = lines.next() {
            if line.isEmpty { break }
            guard let colon = line.firstIndex(of: 0x3A), colon > line.startIndex else {
                if line[line.startIndex] == 0x20 || line[line.startIndex] == 0x09 {
                    throw HTTPParseError(.malformed, "obsolete line folding in header fields is not accepted")
                }
                throw HTTPParseError(.malformed, "a header line must be 'Name: value'")
            }
            let name = UnsafeBufferPointer(rebasing: line[line.startIndex..<colon])
            for byte in name where !isTokenByte(byte) {
                throw HTTPParseError(
                    .malformed, "a header name contains a character not allowed in a token (space before ':'?)")
            }
            var valueStart = colon + 1
            var valueEnd = line.endIndex
            while valueStart < valueEnd && (line[valueStart] == 0x20 || line[valueStart] == 0x09) { valueStart += 1 }
            while valueEnd > valueStart && (line[valueEnd - 1] == 0x20 || line[valueEnd - 1] == 0x09) { valueEnd -= 1 }
            let value = UnsafeBufferPointer(rebasing: line[valueStart..<valueEnd])
            for byte in value where (byte < 0x20 && byte != 0x09) || byte == 0x7F {
                throw HTTPParseError(.malformed, "a header value contains a control character")
            }
            let nameStart = storage.count
            storage.append(contentsOf: name)
            let valueStartIndex = storage.count
            storage.append(contentsOf: value)
            ranges.append(HTTPHeaders.Field(name: nameStart..<valueStartIndex, value: valueStartIndex..<storage.count))

            switch name.count {
            case 4 where HTTPTokens.equalsIgnoringCase(name, "host"):
                result.hasHost = true
            case 6 where HTTPTokens.equalsIgnoringCase(name, "expect"):
                if HTTPTokens.equalsIgnoringCase(value, "100-continue") { result.expectsContinue = true }
            case 10 where HTTPTokens.equalsIgnoringCase(name, "connection"):
                HTTPTokens.forEachListItem(value) { item in
                    if HTTPTokens.equalsIgnoringCase(item, "close") { result.connectionClose = true }
                    if HTTPTokens.equalsIgnoringCase(item, "keep-alive") { result.connectionKeepAlive = true }
                }
            case 14 where HTTPTokens.equalsIgnoringCase(name, "content-length"):
                result.contentLength = try mergeContentLength(result.contentLength, value)
            case 17 where HTTPTokens.equalsIgnoringCase(name, "transfer-encoding"):
                HTTPTokens.forEachListItem(value) { teItems.append($0) }
                result.transferEncoding = .unsupported
            default:
                break
            }
        }
        if result.transferEncoding != nil {
            let onlyChunked = teItems.count == 1 && HTTPTokens.equalsIgnoringCase(teItems[0], "chunked")
            let endsChunked = teItems.last.map { HTTPTokens.equalsIgnoringCase($0, "chunked") } ?? false
            if onlyChunked {
                result.transferEncoding = .chunkedOnly
            }
            // A response with other codings before chunked is still chunk-framed; keep that distinction.
            else if endsChunked && teItems.count > 1 {
                result.transferEncoding = .unsupported
            }
        }
        result.headers = HTTPHeaders(storage: storage, fields: ranges)
        return result
    }

    /// Content-Length: digits only; repeated fields or lists must agree (RFC 9110 §8.6).
    private static func mergeContentLength(_ existing: Int?, _ value: UnsafeBufferPointer<UInt8>) throws(HTTPParseError)
        -> Int
    {
        var merged = existing
        var failure: HTTPParseError?
        HTTPTokens.forEachListItem(value) { item in
            guard failure == nil else { return }
            guard let n = HTTPTokens.decimalValue(item) else {
                failure = HTTPParseError(.malformed, "Content-Length must be a decimal number of at most 18 digits")
                return
            }
            if let m = merged, m != n {
                failure = HTTPParseError(.malformed, "conflicting Content-Length values")
                return
            }
            merged = n
        }
        if let failure { throw failure }
        guard let merged else { throw HTTPParseError(.malformed, "Content-Length is empty") }
        return merged
    }

    var stashedSize = 0

    /// tchar from RFC 9110 §5.6.2.
    @inline(__always)
    static func isTokenByte(_ byte: UInt8) -> Bool { tokenTable[Int(byte)] }

    private static let tokenTable: [Bool] = (0..<256).map { value in
        let byte = UInt8(value)
        switch byte {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: return true
        default: return Array("!#$%&'*+-.^_`|~".utf8).contains(byte)
        }
    }
}
