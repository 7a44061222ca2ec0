import SkiffHTTP

/// `marshal_request=true` (classic watchdog): the process's stdin gets
/// `{"header":{"Content-Type":["text/plain"],…},"body":{"raw":"<base64>"}}` instead of the bare body, with every
/// header under its Go-canonical name. Built by hand: the watchdog links no Foundation.
enum MarshalledRequest {
    static func encode(headers: HTTPHeaders, body: [UInt8]) -> [UInt8] {
        var grouped: [(name: String, values: [String])] = []
        for (name, value) in headers {
            let canonical = ForkRunner.canonical(name)
            if let index = grouped.firstIndex(where: { $0.name == canonical }) {
                grouped[index].values.append(value)
            } else {
                grouped.append((canonical, [value]))
            }
        }
        var json = #"{"header":{"#
        for (index, entry) in grouped.enumerated() {
            if index > 0 { json += "," }
            json += quoted(entry.name) + ":[" + entry.values.map(quoted).joined(separator: ",") + "]"
        }
        json += #"},"body":{"raw":"# + quoted(base64(body)) + "}}"
        return Array(json.utf8)
    }

    static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    static func base64(_ bytes: [UInt8]) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var index = 0
        while index + 2 < bytes.count {
            let value = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8 | UInt32(bytes[index + 2])
            for shift in [18, 12, 6, 0] { out.append(alphabet[Int(value >> UInt32(shift) & 0x3f)]) }
            index += 3
        }
        let rest = bytes.count - index
        if rest > 0 {
            let value = UInt32(bytes[index]) << 16 | (rest > 1 ? UInt32(bytes[index + 1]) << 8 : 0)
            out.append(alphabet[Int(value >> 18 & 0x3f)])
            out.append(alphabet[Int(value >> 12 & 0x3f)])
            out.append(rest > 1 ? alphabet[Int(value >> 6 & 0x3f)] : UInt8(ascii: "="))
            out.append(UInt8(ascii: "="))
        }
        return String(decoding: out, as: UTF8.self)
    }
}
