/// Reads the regular files of a tar stream (ustar, GNU and PAX long names), enough to open OCI image archives
/// such as `ctr images export` writes. Other entry types are skipped.
public enum TarReader {
    public struct Malformed: Error, CustomStringConvertible {
        public let description: String
    }

    /// Regular files by path (without a leading `./`).
    public static func files(_ bytes: [UInt8]) throws -> [String: ArraySlice<UInt8>] {
        var files: [String: ArraySlice<UInt8>] = [:]
        var offset = 0
        var longName: String?
        while offset + 512 <= bytes.count {
            let header = bytes[offset..<offset + 512]
            if header.allSatisfy({ $0 == 0 }) { break }
            guard let size = octal(header, 124, 12) else {
                throw Malformed(description: "a tar header at byte \(offset) has no readable size")
            }
            let type = header[header.startIndex + 156]
            let contentStart = offset + 512
            guard contentStart + size <= bytes.count else {
                throw Malformed(description: "the tar archive ends inside an entry; it is truncated")
            }
            let content = bytes[contentStart..<contentStart + size]
            var name =
                longName ?? (string(header, 345, 155).map { $0.isEmpty ? "" : $0 + "/" } ?? "")
                + (string(header, 0, 100) ?? "")
            if longName != nil { name = longName ?? name }
            longName = nil
            switch type {
            case UInt8(ascii: "x"):
                longName = paxPath(content)
            case UInt8(ascii: "L"):
                longName = String(decoding: content.prefix { $0 != 0 }, as: UTF8.self)
            case UInt8(ascii: "0"), 0:
                while name.hasPrefix("./") { name.removeFirst(2) }
                files[name] = content
            default:
                break
            }
            offset = contentStart + (size + 511) / 512 * 512
        }
        return files
    }

    private static func string(_ header: ArraySlice<UInt8>, _ at: Int, _ width: Int) -> String? {
        let start = header.startIndex + at
        let field = header[start..<start + width].prefix { $0 != 0 }
        return String(decoding: field, as: UTF8.self)
    }

    private static func octal(_ header: ArraySlice<UInt8>, _ at: Int, _ width: Int) -> Int? {
        guard let text = string(header, at, width) else { return nil }
        let digits = text.trimmingCharacters(in: " ")
        return digits.isEmpty ? 0 : Int(digits, radix: 8)
    }

    private static func paxPath(_ records: ArraySlice<UInt8>) -> String? {
        let text = String(decoding: records, as: UTF8.self)
        for record in text.split(separator: "\n") {
            guard let space = record.firstIndex(of: " ") else { continue }
            let pair = record[record.index(after: space)...]
            if pair.hasPrefix("path=") { return String(pair.dropFirst(5)) }
        }
        return nil
    }
}

extension String {
    fileprivate func trimmingCharacters(in character: Character) -> String {
        var text = Substring(self)
        while text.first == character { text.removeFirst() }
        while text.last == character { text.removeLast() }
        return String(text)
    }
}
