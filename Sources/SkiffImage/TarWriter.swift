/// Writes a POSIX tar stream (ustar, with PAX headers for long names) in memory, the way image layers need it:
/// the caller decides order, modes and owners, and every entry carries the same fixed mtime, so the same input
/// gives the same bytes and the same digest.
public struct TarWriter: Sendable {
    public private(set) var bytes: [UInt8] = []
    /// Seconds since the epoch written into every header; 0 keeps layers reproducible.
    public var modificationTime: Int

    public init(modificationTime: Int = 0) { self.modificationTime = modificationTime }

    public enum Kind: Sendable {
        case file([UInt8])
        case directory
        case symlink(target: String)
    }

    public struct Entry: Sendable {
        public var path: String
        public var kind: Kind
        public var mode: UInt32
        public var uid: Int
        public var gid: Int

        public init(path: String, kind: Kind, mode: UInt32? = nil, uid: Int = 0, gid: Int = 0) {
            self.path = path
            self.kind = kind
            switch kind {
            case .file: self.mode = mode ?? 0o644
            case .directory: self.mode = mode ?? 0o755
            case .symlink: self.mode = mode ?? 0o777
            }
            self.uid = uid
            self.gid = gid
        }
    }

    public mutating func append(_ entry: Entry) {
        var name = entry.path
        while name.hasPrefix("/") { name.removeFirst() }
        if case .directory = entry.kind, !name.hasSuffix("/") { name += "/" }
        var linkTarget = ""
        var content: [UInt8] = []
        let type: UInt8
        switch entry.kind {
        case .file(let data):
            type = UInt8(ascii: "0")
            content = data
        case .directory:
            type = UInt8(ascii: "5")
        case .symlink(let target):
            type = UInt8(ascii: "2")
            linkTarget = target
        }
        var pax: [(String, String)] = []
        if name.utf8.count > 100 { pax.append(("path", name)) }
        if linkTarget.utf8.count > 100 { pax.append(("linkpath", linkTarget)) }
        if !pax.isEmpty {
            var records: [UInt8] = []
            for (key, value) in pax { records += Self.paxRecord(key, value) }
            appendHeader(
                name: "PaxHeaders/" + String(name.suffix(80)), type: UInt8(ascii: "x"), size: records.count,
                mode: 0o644, uid: 0, gid: 0, link: "")
            appendPadded(records)
        }
        appendHeader(
            name: String(decoding: name.utf8.prefix(100), as: UTF8.self), type: type, size: content.count,
            mode: entry.mode, uid: entry.uid, gid: entry.gid,
            link: String(decoding: linkTarget.utf8.prefix(100), as: UTF8.self))
        appendPadded(content)
    }

    /// Ends the archive with the two zero blocks tar readers expect and returns its bytes.
    public mutating func finish() -> [UInt8] {
        bytes += [UInt8](repeating: 0, count: 1024)
        return bytes
    }

    private mutating func appendPadded(_ content: [UInt8]) {
        bytes += content
        let remainder = content.count % 512
        if remainder != 0 { bytes += [UInt8](repeating: 0, count: 512 - remainder) }
    }

    private mutating func appendHeader(
        name: String, type: UInt8, size: Int, mode: UInt32, uid: Int, gid: Int, link: String
    ) {
        var header = [UInt8](repeating: 0, count: 512)
        func put(_ text: String, at offset: Int, width: Int) {
            for (index, byte) in text.utf8.prefix(width).enumerated() { header[offset + index] = byte }
        }
        func octal(_ value: Int, at offset: Int, width: Int) {
            let digits = String(value, radix: 8)
            let padded = String(repeating: "0", count: max(0, width - 1 - digits.count)) + digits
            put(padded, at: offset, width: width - 1)
        }
        put(name, at: 0, width: 100)
        octal(Int(mode & 0o7777), at: 100, width: 8)
        octal(uid, at: 108, width: 8)
        octal(gid, at: 116, width: 8)
        octal(size, at: 124, width: 12)
        octal(modificationTime, at: 136, width: 12)
        for index in 148..<156 { header[index] = UInt8(ascii: " ") }
        header[156] = type
        put(link, at: 157, width: 100)
        put("ustar", at: 257, width: 6)
        put("00", at: 263, width: 2)
        let checksum = header.reduce(0) { $0 + Int($1) }
        octal(checksum, at: 148, width: 7)
        header[154] = 0
        header[155] = UInt8(ascii: " ")
        bytes += header
    }

    /// A PAX record is "LEN key=value\n" where LEN counts its own digits.
    private static func paxRecord(_ key: String, _ value: String) -> [UInt8] {
        let body = " \(key)=\(value)\n"
        var length = body.utf8.count + 1
        while String(length).utf8.count + body.utf8.count != length { length += 1 }
        return Array((String(length) + body).utf8)
    }
}
