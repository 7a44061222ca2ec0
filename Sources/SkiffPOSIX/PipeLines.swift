import Glibc

/// Reads blocking descriptors (a child's stdout and stderr pipes) until every one has ended, handing each line
/// to `line` without its newline. Lines longer than `maximumLine` are handed over in pieces of that size, so a
/// writer that never ends a line cannot make the reader hold unbounded memory; a last line without a newline
/// is handed over when its descriptor ends. Each descriptor is closed at its end. Blocks.
public enum PipeLines {
    public static func drain(
        _ descriptors: [Int32], maximumLine: Int, _ line: (_ descriptor: Int32, _ text: ArraySlice<UInt8>) -> Void
    ) {
        var pending: [Int32: [UInt8]] = [:]
        var open = descriptors
        var buffer = [UInt8](repeating: 0, count: 65536)
        while !open.isEmpty {
            var fds = open.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            guard poll(&fds, nfds_t(fds.count), -1) > 0 else { continue }
            for entry in fds where entry.revents != 0 {
                let n = read(entry.fd, &buffer, buffer.count)
                if n > 0 {
                    var data = pending[entry.fd, default: []] + buffer[0..<n]
                    var start = 0
                    while let newline = data[start...].firstIndex(of: UInt8(ascii: "\n")) {
                        line(entry.fd, data[start..<newline])
                        start = newline + 1
                    }
                    while data.count - start > maximumLine {
                        line(entry.fd, data[start..<start + maximumLine])
                        start += maximumLine
                    }
                    data.removeFirst(start)
                    pending[entry.fd] = data
                } else if n == 0 || (errno != EINTR && errno != EAGAIN) {
                    if let rest = pending[entry.fd], !rest.isEmpty { line(entry.fd, rest[...]) }
                    close(entry.fd)
                    open.removeAll { $0 == entry.fd }
                }
            }
        }
    }

    /// Closes an inherited descriptor this process has no use for (a wait pipe whose closing signals readiness).
    public static func closeInherited(_ descriptor: Int32) {
        close(descriptor)
    }
}
