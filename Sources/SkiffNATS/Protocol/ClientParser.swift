/// Parses what a client sends, one operation at a time, from the start of `input`: the operation and how many
/// bytes it took, `nil` when more bytes are needed (nothing is consumed, and the same bytes are offered again
/// with the next ones), or a ``ProtocolViolation``. Stateless, so any split across reads parses the same.
///
/// Op names are case-insensitive; control lines end in CRLF or a bare LF; arguments are separated by runs of
/// spaces or tabs; a payload is exactly its declared size followed by CRLF. Limits are checked before the bytes
/// they limit have arrived: the control line's arguments as they accumulate, a payload's size as soon as its
/// line is complete.
struct ClientParser {
    var maxControlLine: Int
    var maxPayload: Int

    typealias Parsed = (operation: ClientOperation, consumed: Int)

    func parse(_ input: UnsafeBufferPointer<UInt8>) throws(ProtocolViolation) -> Parsed? {
        guard !input.isEmpty else { return nil }
        var undecided = false
        for name in Name.allCases {
            switch Self.prefix(input, name.text) {
            case .differs: continue
            case .needMore: undecided = true
            case .matches: return try parse(input, name)
            }
        }
        // MSG and HMSG are the server's; anything else, whitespace and empty lines included, is unknown.
        if undecided { return nil }
        throw .unknownOperation
    }

    /// The op names a client may send, the most frequent first.
    private enum Name: CaseIterable {
        case pub, hpub, sub, unsub, ping, pong, connect, info, ok, err

        var text: StaticString {
            switch self {
            case .pub: "PUB"
            case .hpub: "HPUB"
            case .sub: "SUB"
            case .unsub: "UNSUB"
            case .ping: "PING"
            case .pong: "PONG"
            case .connect: "CONNECT"
            case .info: "INFO"
            case .ok: "+OK"
            case .err: "-ERR"
            }
        }
    }

    private func parse(_ input: UnsafeBufferPointer<UInt8>, _ name: Name) throws(ProtocolViolation) -> Parsed? {
        let length = name.text.utf8CodeUnitCount
        // PING, PONG and +OK ignore the rest of their line (bounded like any control line).
        switch name {
        case .ping, .pong, .ok:
            guard let line = try line(input, from: length) else { return nil }
            return (name == .ping ? .ping : name == .pong ? .pong : .ok, line.end)
        default: break
        }
        // The others take arguments after a space or a tab.
        guard input.count > length else { return nil }
        guard input[length] == 0x20 || input[length] == 0x09 else { throw .unknownOperation }
        let start = length + 1
        switch name {
        case .pub: return try publish(input, from: start, hasHeaders: false)
        case .hpub: return try publish(input, from: start, hasHeaders: true)
        case .sub: return try subscribe(input, from: start)
        case .unsub: return try unsubscribe(input, from: start)
        case .connect, .info, .err:
            guard let line = try line(input, from: start) else { return nil }
            let json = trimmed(input, line.arguments)
            return (name == .connect ? .connect(json: json) : name == .info ? .info(json: json) : .error, line.end)
        case .ping, .pong, .ok: return nil
        }
    }

    private enum Prefix { case matches, needMore, differs }

    /// Whether `input` starts with `name`, letters in any case.
    private static func prefix(_ input: UnsafeBufferPointer<UInt8>, _ name: StaticString) -> Prefix {
        let length = name.utf8CodeUnitCount
        for index in 0..<min(input.count, length) {
            let expected = name.utf8Start[index]
            let byte = input[index]
            let isLetter = expected >= 0x41 && expected <= 0x5A
            guard byte == expected || (isLetter && byte == expected | 0x20) else { return .differs }
        }
        return input.count >= length ? .matches : .needMore
    }

    // MARK: Operations

    private func publish(_ input: UnsafeBufferPointer<UInt8>, from start: Int, hasHeaders: Bool)
        throws(ProtocolViolation)
        -> Parsed?
    {
        guard let line = try line(input, from: start) else { return nil }
        let arguments = split(input, line.arguments)
        let counts = hasHeaders ? 3...4 : 2...3
        guard counts.contains(arguments.count) else { throw .malformedArguments }
        let total = try size(input, arguments[arguments.count - 1])
        var headerLength: Int?
        if hasHeaders {
            let headers = try size(input, arguments[arguments.count - 2])
            guard headers <= total else { throw .malformedArguments }
            headerLength = headers
        }
        guard total <= maxPayload else { throw .payloadTooLarge }
        let end = line.end + total
        guard end + 2 <= input.count else { return nil }
        guard input[end] == 0x0D, input[end + 1] == 0x0A else { throw .unknownOperation }
        let hasReply = arguments.count == counts.upperBound
        return (
            .publish(
                subject: slice(input, arguments[0]), reply: hasReply ? slice(input, arguments[1]) : nil,
                headerLength: headerLength, message: slice(input, line.end..<end)),
            end + 2
        )
    }

    private func subscribe(_ input: UnsafeBufferPointer<UInt8>, from start: Int) throws(ProtocolViolation) -> Parsed? {
        guard let line = try line(input, from: start) else { return nil }
        let arguments = split(input, line.arguments)
        guard arguments.count == 2 || arguments.count == 3 else { throw .malformedArguments }
        let queue = arguments.count == 3 ? slice(input, arguments[1]) : nil
        return (
            .subscribe(
                subject: slice(input, arguments[0]), queue: queue, sid: slice(input, arguments[arguments.count - 1])),
            line.end
        )
    }

    private func unsubscribe(_ input: UnsafeBufferPointer<UInt8>, from start: Int) throws(ProtocolViolation) -> Parsed?
    {
        guard let line = try line(input, from: start) else { return nil }
        let arguments = split(input, line.arguments)
        switch arguments.count {
        case 1: return (.unsubscribe(sid: slice(input, arguments[0]), max: nil), line.end)
        case 2:
            // A maximum that is no number removes the subscription now, as nats-server does.
            let max = (try? size(input, arguments[1])) ?? 0
            return (.unsubscribe(sid: slice(input, arguments[0]), max: max), line.end)
        default: throw .malformedArguments
        }
    }

    // MARK: Pieces

    /// The control line from `start` to its LF: where its arguments lie (without the CR) and the index after
    /// the LF. Nil when the LF has not arrived; throws when the arguments are longer than allowed, arrived or not.
    private func line(_ input: UnsafeBufferPointer<UInt8>, from start: Int) throws(ProtocolViolation) -> (
        arguments: Range<Int>, end: Int
    )? {
        let start = min(start, input.count)
        var index = start
        while index < input.count && input[index] != 0x0A { index += 1 }
        guard index < input.count else {
            if input.count - start > maxControlLine { throw .controlLineTooLong }
            return nil
        }
        var argumentsEnd = index
        if argumentsEnd > start && input[argumentsEnd - 1] == 0x0D { argumentsEnd -= 1 }
        if argumentsEnd - start > maxControlLine { throw .controlLineTooLong }
        return (start..<argumentsEnd, index + 1)
    }

    /// The arguments separated by runs of spaces and tabs: at most four are kept (no op takes more), and a count
    /// above four says there were too many. No allocation: this runs for every message.
    private func split(_ input: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Arguments {
        var arguments = Arguments()
        var index = range.lowerBound
        while index < range.upperBound {
            while index < range.upperBound && (input[index] == 0x20 || input[index] == 0x09) { index += 1 }
            let start = index
            while index < range.upperBound && input[index] != 0x20 && input[index] != 0x09 { index += 1 }
            if index > start { arguments.append(start..<index) }
        }
        return arguments
    }

    private struct Arguments {
        private var ranges: (Range<Int>, Range<Int>, Range<Int>, Range<Int>) = (0..<0, 0..<0, 0..<0, 0..<0)
        private(set) var count = 0

        mutating func append(_ range: Range<Int>) {
            switch count {
            case 0: ranges.0 = range
            case 1: ranges.1 = range
            case 2: ranges.2 = range
            case 3: ranges.3 = range
            default: break
            }
            count += 1
        }

        subscript(index: Int) -> Range<Int> {
            switch index {
            case 0: ranges.0
            case 1: ranges.1
            case 2: ranges.2
            default: ranges.3
            }
        }
    }

    /// A size: decimal digits only, within Int; anything else closes the connection silently.
    private func size(_ input: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) throws(ProtocolViolation) -> Int {
        guard !range.isEmpty, range.count <= 18 else { throw .malformedArguments }
        var value = 0
        for index in range {
            let digit = input[index] &- 0x30
            guard digit < 10 else { throw .malformedArguments }
            value = value * 10 + Int(digit)
        }
        return value
    }

    private func trimmed(_ input: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> UnsafeBufferPointer<UInt8> {
        var lower = range.lowerBound
        var upper = range.upperBound
        while lower < upper && (input[lower] == 0x20 || input[lower] == 0x09) { lower += 1 }
        while upper > lower && (input[upper - 1] == 0x20 || input[upper - 1] == 0x09) { upper -= 1 }
        return slice(input, lower..<upper)
    }

    private func slice(_ input: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> UnsafeBufferPointer<UInt8> {
        UnsafeBufferPointer(rebasing: input[range])
    }
}
