@testable import SkiffHTTP

/// What a parser produced for a whole input, with body bytes joined, so split and unsplit runs compare equal.
enum Parsed: Equatable {
    case request(
        method: String, target: String, version: HTTPVersion, keepAlive: Bool, framing: HTTPBodyFraming,
        headers: [String])
    case response(code: Int, framing: HTTPBodyFraming, headers: [String])
    case body([UInt8])
    case end
}

/// Feeds `pieces` to a parser the way a connection does: unconsumed bytes are kept and the next piece appended.
func parse(
    _ pieces: [[UInt8]], kind: HTTPParser.Kind = .request, maxHead: Int = 64 * 1024,
    noBody: Bool = false, finishAtEOF: Bool = false
) throws(HTTPParseError) -> [Parsed] {
    var parser = HTTPParser(kind: kind, maxHeadBytes: maxHead)
    parser.expectsNoBody = noBody
    var events: [Parsed] = []
    var pending: [UInt8] = []
    func add(_ event: Parsed) {
        if case .body(let bytes) = event, case .body(let previous)? = events.last {
            events[events.count - 1] = .body(previous + bytes)
        } else {
            events.append(event)
        }
    }
    for piece in pieces {
        pending += piece
        while true {
            let result = try pending.withUnsafeBufferPointer { buffer throws(HTTPParseError) in try parser.parse(buffer)
            }
            var stop = false
            switch result.event {
            case .needMore:
                stop = result.consumed == 0
            case .requestHead(let head):
                add(
                    .request(
                        method: head.method.rawValue, target: head.target, version: head.version,
                        keepAlive: head.keepAlive, framing: head.framing,
                        headers: head.headers.map { "\($0.name): \($0.value)" }))
            case .responseHead(let head):
                add(
                    .response(
                        code: head.status.code, framing: head.framing,
                        headers: head.headers.map { "\($0.name): \($0.value)" }))
            case .body(let range):
                add(.body(Array(pending[range])))
            case .end:
                add(.end)
            }
            pending.removeFirst(result.consumed)
            if stop { break }
        }
    }
    if finishAtEOF, try parser.finish(bufferedBytes: pending.count) == .end { add(.end) }
    return events
}

/// Every way of cutting `bytes` in two, plus byte-by-byte.
func splits(_ bytes: [UInt8]) -> [[[UInt8]]] {
    var result: [[[UInt8]]] = [bytes.map { [$0] }]
    for cut in 1..<bytes.count { result.append([Array(bytes[..<cut]), Array(bytes[cut...])]) }
    return result
}

extension String {
    var bytes: [UInt8] { Array(utf8) }
}
