// libFuzzer target for SkiffNATS's client parser, built by scripts/fuzz-nats-parser with -sanitize=fuzzer,address.
// Compiled together with the parser's own source files (they import nothing), so the fuzzed code is the shipped code.
//
// Oracle: the operations (and the violation, if any) read from an input whole must be those read from it split at a
// point the input chooses, as the broker meets them across reads; every slice must lie inside the buffer; the
// parser must consume something or ask for more.

struct Outcome: Equatable {
    var operations: [String] = []
    var violation: ProtocolViolation?
}

func describe(_ operation: ClientOperation, in buffer: UnsafeBufferPointer<UInt8>) -> String {
    func text(_ slice: UnsafeBufferPointer<UInt8>?) -> String {
        guard let slice else { return "-" }
        if slice.count > 0 {
            let base = buffer.baseAddress!
            let start = slice.baseAddress!
            precondition(start >= base && start + slice.count <= base + buffer.count, "a slice outside the input")
        }
        return String(decoding: slice, as: UTF8.self)
    }
    switch operation {
    case .connect(let json): return "CONNECT \(text(json))"
    case .publish(let subject, let reply, let headers, let message):
        if let headers { precondition(headers <= message.count, "headers longer than the message") }
        return "PUB \(text(subject)) \(text(reply)) \(headers ?? -1) \(text(message))"
    case .subscribe(let subject, let queue, let sid): return "SUB \(text(subject)) \(text(queue)) \(text(sid))"
    case .unsubscribe(let sid, let max): return "UNSUB \(text(sid)) \(max ?? -1)"
    case .ping: return "PING"
    case .pong: return "PONG"
    case .ok: return "+OK"
    case .error: return "-ERR"
    case .info(let json): return "INFO \(text(json))"
    }
}

func run(_ pieces: [ArraySlice<UInt8>]) -> Outcome {
    let parser = ClientParser(maxControlLine: 256, maxPayload: 4096)
    var outcome = Outcome()
    var pending: [UInt8] = []
    for piece in pieces {
        pending += piece
        while true {
            let step: (description: String, consumed: Int)?
            do {
                step = try pending.withUnsafeBufferPointer { buffer throws(ProtocolViolation) in
                    guard let parsed = try parser.parse(buffer) else { return nil }
                    return (describe(parsed.operation, in: buffer), parsed.consumed)
                }
            } catch {
                outcome.violation = error
                return outcome
            }
            guard let step else { break }
            precondition(step.consumed > 0 && step.consumed <= pending.count, "consumed nothing, or past the input")
            outcome.operations.append(step.description)
            pending.removeFirst(step.consumed)
        }
    }
    return outcome
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 1 else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    let whole = run([bytes[...]])
    let cut = Int(data[0]) * bytes.count / 256
    let split = run([bytes[..<cut], bytes[cut...]])
    if whole != split {
        fatalError("split at \(cut) changed the outcome: \(whole) vs \(split)")
    }
    return 0
}
