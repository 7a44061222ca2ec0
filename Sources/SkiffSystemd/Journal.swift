import CSystemd
import Glibc

/// journald's native protocol through libsystemd's `sd_journal_sendv`.
public enum Journal {
    /// Whether journald's native socket is there to write to. `sd_journal_sendv` cannot tell: without journald
    /// it returns 0 and drops the record, so callers choose their sink with this first.
    public static var isAvailable: Bool {
        access("/run/systemd/journal/socket", W_OK) == 0
    }

    /// Whether this process's stderr is already a journal stream (started by systemd with
    /// `StandardError=journal`): `JOURNAL_STREAM` names stderr's device and inode. Children inherit the
    /// variable after redirecting stderr, hence the comparison.
    public static var stderrIsJournalStream: Bool {
        guard let value = getenv("JOURNAL_STREAM").map({ String(cString: $0) }) else { return false }
        var info = stat()
        guard fstat(2, &info) == 0 else { return false }
        return value == "\(info.st_dev):\(info.st_ino)"
    }

    /// Sends one entry. Field names are upper-case letters, digits and `_`, not starting with `_`; values may
    /// hold any bytes, newlines included. Returns false when journald refused it.
    @discardableResult
    public static func send(_ fields: [(name: String, value: [UInt8])]) -> Bool {
        // One contiguous buffer of NAME=value items; the iovecs point into it for the call's duration.
        var buffer: [UInt8] = []
        var ranges: [Range<Int>] = []
        for field in fields {
            let start = buffer.count
            buffer += field.name.utf8
            buffer.append(UInt8(ascii: "="))
            buffer += field.value
            ranges.append(start..<buffer.count)
        }
        return buffer.withUnsafeMutableBytes { raw -> Bool in
            guard let base = raw.baseAddress else { return false }
            var vectors = ranges.map { iovec(iov_base: base + $0.lowerBound, iov_len: $0.count) }
            return sd_journal_sendv(&vectors, Int32(vectors.count)) == 0
        }
    }

    /// A journal field name from a metadata key: `call_id` → `CALL_ID`; anything else becomes `_`.
    public static func fieldName(_ key: String) -> String {
        var name = ""
        for scalar in key.unicodeScalars {
            switch scalar {
            case "a"..."z": name.unicodeScalars.append(Unicode.Scalar(scalar.value - 32) ?? "_")
            case "A"..."Z", "0"..."9": name.unicodeScalars.append(scalar)
            default: name += "_"
            }
        }
        while name.hasPrefix("_") { name.removeFirst() }
        return name.isEmpty ? "FIELD" : name
    }
}
