import Foundation
import SkiffPOSIX

/// Reading a log back at open: its segments in order, every record applied, a torn tail cut off the last one.
extension MessageLog {
    /// `NUMBER-SEQUENCE.seg`: the segment's place in the log, and the first sequence it was to hold, so that a log
    /// whose messages were all deleted still knows where its numbering stands.
    static func segmentName(_ number: Int, _ sequence: UInt64) -> String {
        func padded(_ value: UInt64) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, 20 - digits.count)) + digits
        }
        return "\(padded(UInt64(number)))-\(padded(sequence)).seg"
    }

    /// The number and first sequence in a segment's file name; nil for any other file.
    static func parseSegmentName(_ name: String) -> (number: Int, sequence: UInt64)? {
        guard name.hasSuffix(".seg") else { return nil }
        let parts = name.dropLast(4).split(separator: "-")
        guard parts.count == 2, let number = Int(parts[0]), let sequence = UInt64(parts[1]) else { return nil }
        return (number, sequence)
    }

    static func recover(_ directory: String) throws(MessageLogError) -> (State, Recovery) {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [])
            .compactMap { name in parseSegmentName(name).map { (name: name, number: $0.number, sequence: $0.sequence) }
            }
            .sorted { $0.number < $1.number }
        var state = State(segments: [], nextSequence: 1, lastSequence: 0)
        var recovery = Recovery(records: 0, truncatedBytes: 0)
        for (position, (name, number, sequence)) in names.enumerated() {
            let path = "\(directory)/\(name)"
            let segment: Segment
            let bytes: [UInt8]
            do {
                let file = try SegmentFile(path: path, create: false)
                segment = Segment(number: number, file: file)
                bytes = try file.read(at: 0, count: file.size)
            } catch {
                throw .system("cannot read \(path): \(error)")
            }
            state.nextSequence = max(state.nextSequence, sequence)
            state.segments.append(segment)
            var offset = 0
            while offset < bytes.count {
                let decoded: LogRecord.Decoded
                let size: Int
                do {
                    (decoded, size) = try LogRecord.decode(bytes, at: offset)
                } catch {
                    guard position == names.count - 1 else {
                        throw .corrupt("\(path) at byte \(offset): \(error); the log cannot be read past it")
                    }
                    // The end of the last segment: a write the machine did not finish. Nothing after it was
                    // acknowledged.
                    do {
                        try segment.file.truncate(to: offset)
                    } catch {
                        throw .system("cannot cut the unfinished record off \(path): \(error)")
                    }
                    recovery.truncatedBytes = bytes.count - offset
                    break
                }
                apply(decoded, in: segment, at: offset, size: size, to: &state)
                recovery.records += 1
                offset += size
            }
        }
        if state.segments.isEmpty {
            let file: SegmentFile
            do {
                file = try SegmentFile(path: "\(directory)/\(segmentName(1, state.nextSequence))", create: true)
            } catch {
                throw .system("cannot create a segment in \(directory): \(error)")
            }
            state.segments.append(Segment(number: 1, file: file))
        }
        return (state, recovery)
    }

    static func apply(
        _ decoded: LogRecord.Decoded, in segment: Segment, at offset: Int, size: Int, to state: inout State
    ) {
        switch decoded {
        case .message(let message):
            let bytes = message.headers.count + message.payload.count
            state.index[message.sequence] = Location(segment: segment.number, offset: offset, size: size, bytes: bytes)
            segment.live += 1
            state.bytes += bytes
            state.lastSequence = max(state.lastSequence, message.sequence)
            state.nextSequence = max(state.nextSequence, message.sequence + 1)
        case .deletion(let sequence):
            guard let location = state.index.removeValue(forKey: sequence) else { return }
            state.bytes -= location.bytes
            state.segments.first { $0.number == location.segment }?.live -= 1
        }
    }
}
