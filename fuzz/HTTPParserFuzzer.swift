// libFuzzer target for SkiffHTTP's parser, built by scripts/fuzz-http-parser with -sanitize=fuzzer,address.
// Compiled together with the parser's own source files (they import nothing), so the fuzzed code is the shipped code.
//
// Oracle: parsing an input whole and parsing it split at a point chosen by the input itself must give the same
// events, or fail with the same kind of error; every reported range must lie inside the buffer; the parser must
// make progress or ask for more.

struct Outcome: Equatable {
    var events: [String] = []
    var body: [UInt8] = []
    var failure: HTTPParseError.Kind?
}

func run(_ pieces: [ArraySlice<UInt8>], kind: HTTPParser.Kind) -> Outcome {
    var parser = HTTPParser(kind: kind, maxHeadBytes: 4096)
    var outcome = Outcome()
    var pending: [UInt8] = []
    for piece in pieces {
        pending += piece
        var guardCount = 0
        while true {
            guardCount += 1
            if guardCount > 100_000 { fatalError("the parser made no progress") }
            let result: HTTPParser.Result
            do {
                result = try pending.withUnsafeBufferPointer { buffer throws(HTTPParseError) in try parser.parse(buffer)
                }
            } catch {
                outcome.failure = error.kind
                return outcome
            }
            precondition(result.consumed >= 0 && result.consumed <= pending.count, "consumed past the input")
            switch result.event {
            case .needMore:
                break
            case .requestHead(let head):
                outcome.events.append("request \(head.method) \(head.target) \(head.framing) \(head.keepAlive)")
            case .responseHead(let head):
                outcome.events.append("response \(head.status.code) \(head.framing)")
            case .body(let range):
                precondition(range.lowerBound >= 0 && range.upperBound <= result.consumed, "body range outside input")
                outcome.body += pending[range]
            case .end:
                outcome.events.append("end")
            }
            pending.removeFirst(result.consumed)
            if result.event == .needMore && result.consumed == 0 { break }
        }
    }
    return outcome
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 1 else { return 0 }
    let control = data[0]
    let bytes = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    let kind: HTTPParser.Kind = control & 1 == 0 ? .request : .response
    let whole = run([bytes[...]], kind: kind)
    let cut = Int(control) * bytes.count / 256
    let split = run([bytes[..<cut], bytes[cut...]], kind: kind)
    if whole != split {
        fatalError("split at \(cut) changed the outcome: \(whole) vs \(split)")
    }
    return 0
}
