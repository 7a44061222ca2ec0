import Testing

@testable import SkiffHTTP

@Suite("HTTP/1.x parser")
struct HTTPParserTests {
    static let wellFormed: [String] = [
        "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
        "GET /function/echo?x=1&y=%20 HTTP/1.1\r\nHost: a\r\nUser-Agent: t\r\nAccept: */*\r\n\r\n",
        "POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nhello world",
        "POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nTrailer-A: 1\r\n\r\n",
        "PUT /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: CHUNKED\r\n\r\nA\r\n0123456789\r\n0\r\n\r\n",
        "GET /1 HTTP/1.1\r\nHost: a\r\n\r\nPOST /2 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabcGET /3 HTTP/1.0\r\n\r\n",
        "GET /lf HTTP/1.1\nHost: a\n\n",
        "\r\nGET /leading-crlf HTTP/1.1\r\nHost: a\r\n\r\n",
    ]

    @Test("each request split at every byte boundary parses as it does whole", arguments: wellFormed)
    func splitAtEveryBoundary(_ text: String) throws {
        let whole = try parse([text.bytes])
        #expect(whole.contains(.end))
        for pieces in splits(text.bytes) {
            #expect(try parse(pieces) == whole)
        }
    }

    @Test func requestLineAndHeaders() throws {
        let events = try parse([
            "GET /function/echo?x=1 HTTP/1.1\r\nHost: example\r\nX-Multi: a\r\nx-multi: b\r\n\r\n".bytes
        ])
        #expect(
            events == [
                .request(
                    method: "GET", target: "/function/echo?x=1", version: .http1_1, keepAlive: true, framing: .none,
                    headers: ["Host: example", "X-Multi: a", "x-multi: b"]),
                .end,
            ])
        var parser = HTTPParser(kind: .request)
        let head = "GET /a/b?q=1 HTTP/1.1\r\nHost: h\r\nX-Multi: a\r\nx-multi: b\r\n\r\n".bytes
        let result = try head.withUnsafeBufferPointer { b throws(HTTPParseError) in try parser.parse(b) }
        guard case .requestHead(let request) = result.event else {
            Issue.record("expected a head")
            return
        }
        #expect(request.path == "/a/b")
        #expect(request.query == "q=1")
        #expect(request.headers["X-MULTI"] == "a")
        #expect(request.headers.values(name: "x-multi") == ["a", "b"])
    }

    @Test func bodyFramingAndKeepAlive() throws {
        let post = try parse(["POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc".bytes])
        #expect(
            post == [
                .request(
                    method: "POST", target: "/", version: .http1_1, keepAlive: false, framing: .length(3),
                    headers: ["Host: a", "Content-Length: 3", "Connection: close"]),
                .body("abc".bytes), .end,
            ])
        let http10 = try parse(["GET / HTTP/1.0\r\n\r\n".bytes])
        #expect(
            http10.first
                == .request(
                    method: "GET", target: "/", version: .http1_0, keepAlive: false, framing: .none, headers: []))
        let http10KeepAlive = try parse(["GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n".bytes])
        if case .request(_, _, _, let keepAlive, _, _)? = http10KeepAlive.first {
            #expect(keepAlive)
        } else {
            Issue.record("no head")
        }
        let sameLengths = try parse([
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2, 2\r\nContent-Length: 2\r\n\r\nok".bytes
        ])
        #expect(sameLengths.contains(.body("ok".bytes)))
        let zero = try parse(["POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n".bytes])
        #expect(zero.count == 2 && zero.last == .end)
    }

    @Test func expectContinueIsReported() throws {
        var parser = HTTPParser(kind: .request)
        let bytes = "POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 5\r\n\r\n".bytes
        let result = try bytes.withUnsafeBufferPointer { b throws(HTTPParseError) in try parser.parse(b) }
        guard case .requestHead(let head) = result.event else {
            Issue.record("expected a head")
            return
        }
        #expect(head.expectsContinue)
        #expect(head.contentLength == 5)
    }

    struct Bad: CustomTestStringConvertible, Sendable {
        let text: String
        let kind: HTTPParseError.Kind
        var testDescription: String { text.debugDescription }
    }

    static let malformed: [Bad] = [
        Bad(text: "GET\r\n\r\n", kind: .malformed),
        Bad(text: "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", kind: .malformed),
        Bad(text: "G(T / HTTP/1.1\r\nHost: a\r\n\r\n", kind: .malformed),
        Bad(text: "GET / HTTX/1.1\r\nHost: a\r\n\r\n", kind: .malformed),
        Bad(text: "GET / HTTP/2.0\r\nHost: a\r\n\r\n", kind: .unsupportedVersion),
        Bad(text: "GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", kind: .malformed),
        Bad(text: "GET / HTTP/1.1\r\n\r\n", kind: .malformed),
        Bad(text: "GET / HTTP/1.1\r\nHost : a\r\n\r\n", kind: .malformed),
        Bad(text: "GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", kind: .malformed),
        Bad(text: "GET / HTTP/1.1\r\nHost: a\r\nX: a\u{01}b\r\n\r\n", kind: .malformed),
        Bad(text: "GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", kind: .malformed),
        Bad(text: "GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n", kind: .malformed),
        Bad(text: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", kind: .malformed),
        Bad(text: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1x\r\n\r\n", kind: .malformed),
        Bad(text: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", kind: .malformed),
        Bad(text: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n", kind: .malformed),
        Bad(
            text: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
            kind: .malformed),
        Bad(
            text: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
            kind: .unsupportedTransferEncoding),
        Bad(text: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", kind: .unsupportedTransferEncoding),
        Bad(text: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", kind: .malformed),
        Bad(
            text: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1234567890123456\r\n",
            kind: .malformed),
        Bad(text: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n", kind: .malformed),
        Bad(text: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\rX", kind: .malformed),
    ]

    @Test("malformed input is rejected with the right kind", arguments: malformed)
    func rejects(_ bad: Bad) {
        #expect(throws: HTTPParseError.self) { try parse([bad.text.bytes]) }
        do {
            _ = try parse([bad.text.bytes])
        } catch {
            #expect(error.kind == bad.kind, "\(error.reason)")
        }
        // The same verdict when the bytes arrive one at a time.
        do {
            _ = try parse(bad.text.bytes.map { [$0] })
            Issue.record("byte-by-byte input was accepted")
        } catch {
            #expect(error.kind == bad.kind)
        }
    }

    @Test func statusesMapToHTTP() {
        #expect(HTTPParseError(.headTooLarge, "").status.code == 431)
        #expect(HTTPParseError(.malformed, "").status.code == 400)
        #expect(HTTPParseError(.unsupportedTransferEncoding, "").status.code == 501)
        #expect(HTTPParseError(.unsupportedVersion, "").status.code == 505)
    }

    @Test func headLimitIsEnforcedWholeAndIncrementally() throws {
        let big = "GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + String(repeating: "a", count: 70_000) + "\r\n\r\n"
        #expect(throws: HTTPParseError.self) { try parse([big.bytes]) }
        // Arriving in 1 KiB pieces, the limit trips before the head is complete.
        let pieces = stride(from: 0, to: big.utf8.count, by: 1024).map {
            Array(big.bytes[$0..<min($0 + 1024, big.utf8.count)])
        }
        do {
            _ = try parse(pieces)
            Issue.record("accepted an oversized head")
        } catch {
            #expect(error.kind == .headTooLarge)
        }
        // Just under the limit is fine.
        let fits = "GET / HTTP/1.1\r\nHost: a\r\nX: " + String(repeating: "a", count: 60_000) + "\r\n\r\n"
        #expect(try parse([fits.bytes]).last == .end)
    }

    @Test func chunkedTrailerSectionIsLimited() {
        let trailer = String(repeating: "T: v\r\n", count: 20_000)
        let text = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n" + trailer + "\r\n"
        #expect(throws: HTTPParseError.self) { try parse([text.bytes]) }
    }

    // MARK: Responses

    @Test func responsesWithEveryFraming() throws {
        let length = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
        #expect(
            try parse([length.bytes], kind: .response) == [
                .response(code: 200, framing: .length(2), headers: ["Content-Length: 2"]), .body("ok".bytes), .end,
            ])
        let chunked = "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"
        for pieces in splits(chunked.bytes) {
            #expect(
                try parse(pieces, kind: .response) == [
                    .response(code: 201, framing: .chunked, headers: ["Transfer-Encoding: chunked"]), .body("ok".bytes),
                    .end,
                ])
        }
        let untilClose = "HTTP/1.0 200 OK\r\n\r\nall of it"
        #expect(
            try parse([untilClose.bytes], kind: .response, finishAtEOF: true) == [
                .response(code: 200, framing: .untilClose, headers: []), .body("all of it".bytes), .end,
            ])
        let head = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"
        #expect(
            try parse([head.bytes], kind: .response, noBody: true) == [
                .response(code: 200, framing: .none, headers: ["Content-Length: 100"]), .end,
            ])
        let noContent = "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n"
        #expect(try parse([noContent.bytes], kind: .response).last == .end)
        let interim = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
        let events = try parse([interim.bytes], kind: .response)
        #expect(
            events == [
                .response(code: 100, framing: .none, headers: []),
                .response(code: 200, framing: .none, headers: ["Content-Length: 0"]), .end,
            ])
        let noReason = "HTTP/1.1 404\r\nContent-Length: 0\r\n\r\n"
        #expect(
            try parse([noReason.bytes], kind: .response).first
                == .response(code: 404, framing: .none, headers: ["Content-Length: 0"]))
    }

    // MARK: Request targets

    /// What authentication and routing both see: origin-form kept, absolute-form reduced to its path.
    @Test(
        "targets are normalised once, for every later step",
        arguments: [
            ("/system/functions", "/system/functions"), ("/a/b?x=1", "/a/b?x=1"),
            ("http://host/system/functions", "/system/functions"), ("HTTPS://h:8080/p?q", "/p?q"),
            ("http://host", "/"), ("http://host?q=1", "/?q=1"), ("/a/...b/c", "/a/...b/c"), ("/a/.x", "/a/.x"),
            ("/function/f/%2e%2ex", "/function/f/%2e%2ex"),
        ])
    func targetsAreNormalised(_ target: String, _ expected: String) throws {
        let events = try parse(["GET \(target) HTTP/1.1\r\nHost: a\r\n\r\n".bytes])
        guard case .request(_, let normalised, _, _, _, _) = events.first else {
            Issue.record("no request for \(target)")
            return
        }
        #expect(normalised == expected)
    }

    @Test(
        "targets that are not origin-form, absolute-form or OPTIONS * are refused",
        arguments: [
            "xsystem/functions", "system", "*", "/a#b", "/./system", "/function/../system/functions", "/a/.",
            "/a/..", "/%2e/x", "/%2E%2e/x", "/a/%2e%2E", "ftp://h/p", "http:///p", "http:/p", "//system/./x",
            "http://h/a/../system",
        ])
    func targetsAreRefused(_ target: String) {
        do {
            _ = try parse(["GET \(target) HTTP/1.1\r\nHost: a\r\n\r\n".bytes])
            Issue.record("\(target) was accepted")
        } catch {
            #expect(error.kind == .malformed)
        }
    }

    @Test func asteriskFormIsForOptionsOnly() throws {
        let events = try parse(["OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n".bytes])
        guard case .request(_, let target, _, _, _, _) = events.first else {
            Issue.record("OPTIONS * was refused")
            return
        }
        #expect(target == "*")
    }

    /// A function's status line is relayed: a CR or NUL in its reason phrase would split the line the client reads.
    @Test(arguments: ["HTTP/1.1 200 O\rK\r\n\r\n", "HTTP/1.1 200 O\u{0}K\r\n\r\n", "HTTP/1.1 200 O\u{7F}\r\n\r\n"])
    func reasonPhrasesWithControlCharactersAreRefused(_ text: String) {
        #expect(throws: HTTPParseError.self) { try parse([text.bytes], kind: .response) }
        #expect((try? parse(["HTTP/1.1 200 Fine\tand dandy\r\n\r\n".bytes], kind: .response)) != nil)
    }

    @Test func truncatedMessagesAreErrorsAtEOF() throws {
        var parser = HTTPParser(kind: .response)
        let bytes = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc".bytes
        _ = try? bytes.withUnsafeBufferPointer { b throws(HTTPParseError) in try parser.parse(b) }
        _ = try? bytes[38...].withUnsafeBufferPointer { b throws(HTTPParseError) in try parser.parse(b) }
        #expect(throws: HTTPParseError.self) { _ = try parser.finish(bufferedBytes: 0) }
        var idle = HTTPParser(kind: .request)
        let atRest = try idle.finish(bufferedBytes: 0)
        #expect(atRest == .needMore)
    }
}
