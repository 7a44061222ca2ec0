/// JSON written by hand where an encoder would cost more than the work around it (a PubAck per publish, a queued
/// call per request). Each caller's tests compare its output with what `JSONEncoder` writes for the same values.
public enum JSONText {
    /// A JSON string: quotes, backslashes and control characters escaped, everything else as it is (UTF-8). Runs
    /// of bytes that need nothing are copied at once.
    public static func appendQuoted(_ text: String, to bytes: inout [UInt8]) {
        bytes.append(UInt8(ascii: "\""))
        var text = text
        text.withUTF8 { utf8 in
            var plain = 0
            for index in 0..<utf8.count {
                let byte = utf8[index]
                guard byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") || byte < 0x20 else { continue }
                bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[plain..<index]))
                if byte < 0x20 {
                    bytes += [
                        UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"),
                        hex[Int(byte >> 4)],
                        hex[Int(byte & 0xF)],
                    ]
                } else {
                    bytes += [UInt8(ascii: "\\"), byte]
                }
                plain = index + 1
            }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[plain...]))
        }
        bytes.append(UInt8(ascii: "\""))
    }

    private static let hex = Array("0123456789abcdef".utf8)
}
