/// A message as a subscriber receives it: its subject, the reply subject a requester is waiting on, the headers
/// of an `HMSG` (with the status of its `NATS/1.0 503` line, if any) and the payload.
public struct NATSMessage: Sendable, Equatable {
    public var subject: String
    public var reply: String?
    public var headers: [NATSHeader]
    /// The status of the header block's first line (`NATS/1.0 503` is "no responders"); nil without one.
    public var status: Int?
    public var payload: [UInt8]

    public init(
        subject: String, reply: String? = nil, headers: [NATSHeader] = [], status: Int? = nil, payload: [UInt8]
    ) {
        self.subject = subject
        self.reply = reply
        self.headers = headers
        self.status = status
        self.payload = payload
    }

    /// The first value of a header, its name compared without case.
    public func header(_ name: String) -> String? {
        let wanted = name.lowercased()
        return headers.first { $0.name.lowercased() == wanted }?.value
    }
}

public struct NATSHeader: Sendable, Equatable {
    public var name: String
    public var value: String

    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

/// The header block of `HPUB` and `HMSG` (and of a stored message): `NATS/1.0[ status]`, then `Name: value` lines,
/// then an empty line.
public enum HeaderBlock {
    public static func encode(_ headers: [NATSHeader]) -> [UInt8] {
        var out = Array("NATS/1.0\r\n".utf8)
        for header in headers {
            out += Array(header.name.utf8)
            out += Array(": ".utf8)
            out += Array(header.value.utf8)
            out += [0x0D, 0x0A]
        }
        out += [0x0D, 0x0A]
        return out
    }

    /// Nil when the block does not start with `NATS/1.0`; lines without a colon are skipped, as nats.go does.
    public static func decode(_ block: ArraySlice<UInt8>) -> (status: Int?, headers: [NATSHeader])? {
        // Bytes, not Strings split and trimmed with Foundation: a queued call's headers are read at every delivery.
        var lines = crlfLines(block)[...]
        let version = Array("NATS/1.0".utf8)
        guard let first = lines.popFirst(), first.starts(with: version) else { return nil }
        let status = trimmed(first.dropFirst(version.count)).split(separator: UInt8(ascii: " ")).first
            .flatMap { Int(String(decoding: $0, as: UTF8.self)) }
        var headers: [NATSHeader] = []
        for line in lines {
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { continue }
            headers.append(
                NATSHeader(
                    String(decoding: trimmed(line[..<colon]), as: UTF8.self),
                    String(decoding: trimmed(line[(colon + 1)...]), as: UTF8.self)))
        }
        return (status, headers)
    }

    /// The lines between CRLFs, empty ones left out.
    private static func crlfLines(_ block: ArraySlice<UInt8>) -> [ArraySlice<UInt8>] {
        var lines: [ArraySlice<UInt8>] = []
        var start = block.startIndex
        var index = block.startIndex
        while index < block.endIndex {
            if block[index] == 0x0D, index + 1 < block.endIndex, block[index + 1] == 0x0A {
                if index > start { lines.append(block[start..<index]) }
                index += 2
                start = index
            } else {
                index += 1
            }
        }
        if start < block.endIndex { lines.append(block[start...]) }
        return lines
    }

    /// Without the spaces and tabs around it.
    private static func trimmed(_ bytes: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        let isBlank = { (byte: UInt8) in byte == 0x20 || byte == 0x09 }
        guard let start = bytes.firstIndex(where: { !isBlank($0) }), let end = bytes.lastIndex(where: { !isBlank($0) })
        else { return [] }
        return bytes[start...end]
    }
}
