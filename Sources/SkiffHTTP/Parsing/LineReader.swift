/// Splits a head into lines, accepting CRLF or LF; a stray CR inside a line is left for the field check to reject.
struct LineReader {
    private let buffer: UnsafeBufferPointer<UInt8>
    private var position = 0

    init(_ buffer: UnsafeBufferPointer<UInt8>) { self.buffer = buffer }

    var remaining: Int { buffer.count - position }

    mutating func next() -> Slice<UnsafeBufferPointer<UInt8>>? {
        guard position < buffer.count else { return nil }
        var end = position
        while end < buffer.count && buffer[end] != 0x0A { end += 1 }
        let next = end + 1
        var lineEnd = end
        if lineEnd > position && buffer[lineEnd - 1] == 0x0D { lineEnd -= 1 }
        defer { position = next }
        return buffer[position..<lineEnd]
    }
}
