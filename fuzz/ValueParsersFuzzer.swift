// libFuzzer target for the parsers of values a caller or a deploy body controls: Go durations (`X-Timeout`,
// `exec_timeout`, `grace_period`) and Kubernetes quantities (`limits.memory`, `limits.cpu`). Built by
// scripts/fuzz-value-parsers from the shipped source files, compiled as one module.
//
// Oracle: no input traps; a parsed duration is never negative, converts to nanoseconds without trapping and
// gives a deadline that lies ahead; a bounded parse never returns more than its bound; a parsed quantity is
// positive and finite.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    if let duration = Duration(goSyntax: text) {
        precondition(duration >= .zero, "negative duration from \(text.debugDescription)")
        let nanoseconds = duration.nanoseconds
        precondition(nanoseconds <= Duration.maximumNanoseconds, "nanoseconds beyond the clamp")
        let now = monotonicNanoseconds()
        precondition(now &+ nanoseconds >= now, "a deadline from \(text.debugDescription) wrapped")
        _ = duration.seconds
    }
    if let bounded = try? GoDuration.parse(text, field: "f", atMost: GoDuration.timeoutLimit) {
        precondition(bounded <= GoDuration.timeoutLimit, "a bounded parse exceeded its bound")
    }
    if let bytes = try? Quantity.memoryBytes(text, field: "m") { precondition(bytes > 0) }
    if let milli = try? Quantity.milliCPU(text, field: "c") { precondition(milli >= 1) }
    return 0
}
