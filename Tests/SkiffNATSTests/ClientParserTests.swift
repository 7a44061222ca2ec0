import Testing

@testable import SkiffNATS

/// The parser on its own: nats-server's TestShouldFail inputs, and every split point of each op (a parser that
/// needs more bytes consumes nothing, so the bytes are offered again with the next ones).
@Suite("NATS client parser")
struct ClientParserTests {
    private let parser = ClientParser(maxControlLine: 4096, maxPayload: 1_048_576)

    private func parse(_ text: String) throws(ProtocolViolation) -> (name: String, consumed: Int)? {
        let bytes = Array(text.utf8)
        return try bytes.withUnsafeBufferPointer { buffer throws(ProtocolViolation) in
            guard let parsed = try parser.parse(buffer) else { return nil }
            return (Self.describe(parsed.operation), parsed.consumed)
        }
    }

    private static func describe(_ operation: ClientOperation) -> String {
        func text(_ bytes: UnsafeBufferPointer<UInt8>?) -> String {
            bytes.map { String(decoding: $0, as: UTF8.self) } ?? "-"
        }
        switch operation {
        case .connect(let json): return "CONNECT \(text(json))"
        case .publish(let subject, let reply, let headers, let message):
            return "PUB \(text(subject)) \(text(reply)) \(headers.map(String.init) ?? "-") \(text(message))"
        case .subscribe(let subject, let queue, let sid): return "SUB \(text(subject)) \(text(queue)) \(text(sid))"
        case .unsubscribe(let sid, let max): return "UNSUB \(text(sid)) \(max.map(String.init) ?? "-")"
        case .ping: return "PING"
        case .pong: return "PONG"
        case .ok: return "+OK"
        case .error: return "-ERR"
        case .info(let json): return "INFO \(text(json))"
        }
    }

    @Test(arguments: [
        ("SUB foo 1\r\n", "SUB foo - 1"),
        ("sub foo  queue\t 22\r\n", "SUB foo queue 22"),
        ("UNSUB 1 2\r\n", "UNSUB 1 2"),
        ("UNSUB 1 \r\n", "UNSUB 1 -"),
        ("UNSUB 1 x\r\n", "UNSUB 1 0"),
        ("PUB foo bar 5\r\nhello\r\n", "PUB foo bar - hello"),
        ("PUB foo  5\r\nhe\r\no\r\n", "PUB foo - - he\r\no"),
        ("PUB a 0\r\n\r\n", "PUB a - - "),
        ("HPUB foo 22 33\r\nNATS/1.0\r\nBar: Baz\r\n\r\nHello NATS!\r\n", "HPUB"),
        ("CONNECT {\"verbose\":false}\r\n", "CONNECT {\"verbose\":false}"),
        ("PING\r\n", "PING"),
        ("PING whatever\n", "PING"),
        ("pong\r\n", "PONG"),
        ("+OK\r\n", "+OK"),
        ("-ERR 'x'\r\n", "-ERR"),
        ("INFO {}\r\n", "INFO {}"),
    ])
    func everySplitPointNeedsMoreAndTheWholeParsesOnce(_ text: String, _ expected: String) throws {
        let length = text.utf8.count
        for split in 0..<length {
            let prefix = String(decoding: Array(text.utf8)[..<split], as: UTF8.self)
            #expect(try parse(prefix) == nil, "split at \(split)")
        }
        let whole = try #require(try parse(text))
        #expect(whole.consumed == length)
        if expected == "HPUB" {
            #expect(whole.name == "PUB foo - 22 NATS/1.0\r\nBar: Baz\r\n\r\nHello NATS!")
        } else {
            #expect(whole.name == expected)
        }
        // What follows is left for the next call.
        #expect(try parse(text + "PING\r\n")?.consumed == length)
    }

    /// nats-server's TestShouldFail inputs that fail in the parser itself (CONNECT and INFO with no JSON parse
    /// as operations, and fail when the connection reads their JSON: see the conformance tests).
    @Test(arguments: [
        ("xxx", ProtocolViolation.unknownOperation),
        (" PING", .unknownOperation),
        ("PUB foo\r\n", .malformedArguments),
        ("PUB foo bar       \r\n", .malformedArguments),
        ("PUB foo 2\r\nok \r\n", .unknownOperation),
        ("PUB foo 2\r\nok\r \n", .unknownOperation),
        ("SUB foo\r\n", .malformedArguments),
        ("SUB foo bar baz 22\r\n", .malformedArguments),
        ("UNSUB\r\n", .unknownOperation),
        ("UNSUB \r\n", .malformedArguments),
        ("MSG  \r\n", .unknownOperation),
        ("\r\n", .unknownOperation),
        ("PUBS foo 1\r\n", .unknownOperation),
        ("HPUB foo 10 5\r\n", .malformedArguments),
        ("PUB foo -1\r\n", .malformedArguments),
        ("PUB foo 99999999999999999999\r\n", .malformedArguments),
        ("PUB foo 1048577\r\n", .payloadTooLarge),
        ("UNSUB 1 2 3\r\n", .malformedArguments),
    ])
    func nonsenseFailsTheWayNatsServerFails(_ text: String, _ violation: ProtocolViolation) {
        #expect(throws: violation) { _ = try parse(text) }
    }

    @Test func theControlLineLimitHoldsBeforeTheLineEnds() throws {
        let long = "PUB " + String(repeating: "x", count: 4097)
        #expect(throws: ProtocolViolation.controlLineTooLong) { _ = try parse(long) }
        #expect(throws: ProtocolViolation.controlLineTooLong) { _ = try parse(long + " 1\r\nx\r\n") }
        // At the limit exactly, a line is still fine.
        let subject = String(repeating: "s", count: 4094)
        #expect(try parse("PUB \(subject) 0\r\n\r\n")?.consumed == 4 + 4096 + 2 + 2)
    }

    @Test func thePayloadLimitHoldsBeforeThePayloadArrives() {
        #expect(throws: ProtocolViolation.payloadTooLarge) { _ = try parse("HPUB foo 10 2000000\r\n") }
    }
}
