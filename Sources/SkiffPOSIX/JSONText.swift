/// JSON written by hand where an encoder would cost more than the work around it (a PubAck per publish, a queued
/// call per request). Each caller's tests compare its output with what `JSONEncoder` writes for the same values.
public enum JSONText {
    /// A JSON string: quotes, backslashes and control characters escaped, everything else as it is (UTF-8).
    public static func appendQuoted(_ text: String, to bytes: inout [UInt8]) {
        let hex = Array("0123456789abcdef".utf8)
        bytes.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"):
                bytes += [UInt8(ascii: "\\"), byte]
            case 0..<0x20:
                bytes += Array("\\u00".utf8) + [hex[Int(byte >> 4)], hex[Int(byte & 0xF)]]
            default:
                bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }
}
