import SkiffPOSIX

/// One record of a stream's log, as it lies on disk (little endian):
///
///     magic 0xA7 · kind (1 message, 2 deletion) · 2 reserved · body length u32 · CRC-32C of the body u32
///     message body:  sequence u64 · time (ns since 1970) i64 · subject length u16 · headers length u32 ·
///                    subject · headers · payload
///     deletion body: sequence u64
///
/// A reader that finds a record short or its checksum wrong at the end of the last segment has found a write the
/// machine did not finish: that tail is cut off at recovery. Anywhere else it is corruption and says so.
enum LogRecord {
    static let magic: UInt8 = 0xA7
    static let headerSize = 12

    enum Kind: UInt8 {
        case message = 1
        case deletion = 2
    }

    enum Decoded: Equatable {
        case message(StoredMessage)
        case deletion(UInt64)
    }

    static func encode(_ message: StoredMessage) -> [UInt8] {
        var body: [UInt8] = []
        body.reserveCapacity(22 + message.subject.utf8.count + message.headers.count + message.payload.count)
        append(message.sequence, to: &body)
        append(UInt64(bitPattern: message.time), to: &body)
        let subject = Array(message.subject.utf8)
        append(UInt16(subject.count), to: &body)
        append(UInt32(message.headers.count), to: &body)
        body += subject
        body += message.headers
        body += message.payload
        return frame(.message, body)
    }

    static func encodeDeletion(of sequence: UInt64) -> [UInt8] {
        var body: [UInt8] = []
        append(sequence, to: &body)
        return frame(.deletion, body)
    }

    private static func frame(_ kind: Kind, _ body: [UInt8]) -> [UInt8] {
        var record: [UInt8] = [magic, kind.rawValue, 0, 0]
        append(UInt32(body.count), to: &record)
        append(CRC32C.checksum(body), to: &record)
        return record + body
    }

    enum Failure: Error, Equatable {
        /// Fewer bytes than the record needs: the end of what was written.
        case incomplete
        /// The bytes are there and wrong: a bad magic, kind, length or checksum.
        case corrupt(String)
    }

    /// The record at `offset` and its size in bytes.
    static func decode(_ bytes: [UInt8], at offset: Int) throws(Failure) -> (Decoded, size: Int) {
        guard bytes.count - offset >= headerSize else { throw .incomplete }
        guard bytes[offset] == magic, let kind = Kind(rawValue: bytes[offset + 1]) else {
            throw .corrupt("no record starts here")
        }
        let length = Int(read(UInt32.self, bytes, offset + 4))
        let checksum = read(UInt32.self, bytes, offset + 8)
        let start = offset + headerSize
        guard bytes.count - start >= length else { throw .incomplete }
        let body = bytes[start..<start + length]
        guard CRC32C.checksum(body) == checksum else { throw .corrupt("checksum mismatch") }
        let sequence = read(UInt64.self, bytes, start)
        switch kind {
        case .deletion:
            guard length == 8 else { throw .corrupt("a deletion record of \(length) bytes") }
            return (.deletion(sequence), headerSize + length)
        case .message:
            guard length >= 22 else { throw .corrupt("a message record of \(length) bytes") }
            let time = Int64(bitPattern: read(UInt64.self, bytes, start + 8))
            let subjectLength = Int(read(UInt16.self, bytes, start + 16))
            let headersLength = Int(read(UInt32.self, bytes, start + 18))
            let subjectStart = start + 22
            guard subjectLength + headersLength <= length - 22 else { throw .corrupt("field lengths past the record") }
            let headersStart = subjectStart + subjectLength
            let payloadStart = headersStart + headersLength
            let message = StoredMessage(
                sequence: sequence, subject: String(decoding: bytes[subjectStart..<headersStart], as: UTF8.self),
                headers: Array(bytes[headersStart..<payloadStart]),
                payload: Array(bytes[payloadStart..<start + length]),
                time: time)
            return (.message(message), headerSize + length)
        }
    }

    private static func append<T: FixedWidthInteger>(_ value: T, to bytes: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    private static func read<T: FixedWidthInteger>(_ type: T.Type, _ bytes: [UInt8], _ offset: Int) -> T {
        var value: T = 0
        for index in 0..<MemoryLayout<T>.size { value |= T(bytes[offset + index]) << (8 * index) }
        return value
    }
}

/// A message as the log keeps it.
public struct StoredMessage: Sendable, Equatable {
    public var sequence: UInt64
    public var subject: String
    /// The NATS header block as published (`NATS/1.0\r\n…\r\n\r\n`), or empty.
    public var headers: [UInt8]
    public var payload: [UInt8]
    /// When it was stored, in nanoseconds since 1970.
    public var time: Int64

    public init(sequence: UInt64 = 0, subject: String, headers: [UInt8] = [], payload: [UInt8], time: Int64) {
        self.sequence = sequence
        self.subject = subject
        self.headers = headers
        self.payload = payload
        self.time = time
    }
}
