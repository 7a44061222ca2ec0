import CLinux
import Glibc

/// Non-blocking TCP socket operations on raw descriptors. Every call goes through ``systemCall(_:_:)``.
public enum Socket {
    /// A listening socket, non-blocking and close-on-exec. `reusePort` lets one listener per event loop
    /// share the port so the kernel spreads connections across loops.
    public static func listen(on address: SocketAddress, reusePort: Bool, backlog: Int32 = 1024) throws(SystemError)
        -> Int32
    {
        let fd = try systemCall(
            "socket", { socket(address.family, cl_SOCK_STREAM | cl_SOCK_NONBLOCK | cl_SOCK_CLOEXEC, 0) })
        do {
            try setOption(fd, SOL_SOCKET, SO_REUSEADDR, 1)
            if reusePort { try setOption(fd, SOL_SOCKET, SO_REUSEPORT, 1) }
            if case .v6 = address { try setOption(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, 1) }
            _ = try address.withSockAddr { (p, len) throws(SystemError) in
                try systemCall("bind(\(address))", { bind(fd, p, len) })
            }
            _ = try systemCall("listen", { Glibc.listen(fd, backlog) })
            return fd
        } catch {
            close(fd)
            throw error
        }
    }

    /// Accepts one connection, non-blocking and close-on-exec; nil when none is waiting.
    public static func accept(_ fd: Int32) throws(SystemError) -> Int32? {
        switch try nonBlockingCall("accept4", { cl_accept4(fd) }) {
        case .processed(let client): return client
        case .wouldBlock: return nil
        }
    }

    /// Two connected local stream sockets, non-blocking and close-on-exec: a server in this process serves one end
    /// and a client in this process speaks through the other, with no port and no network in between.
    public static func pair() throws(SystemError) -> (Int32, Int32) {
        var ends: [Int32] = [-1, -1]
        _ = try systemCall(
            "socketpair", { socketpair(AF_UNIX, cl_SOCK_STREAM | cl_SOCK_NONBLOCK | cl_SOCK_CLOEXEC, 0, &ends) })
        return (ends[0], ends[1])
    }

    /// Starts a non-blocking connect. Returns the descriptor and whether the connect is still in progress
    /// (completion is signalled by writability; then read ``pendingError(_:)``).
    ///
    /// With `networkNamespace` (a namespace file such as `/run/netns/NAME`), the socket is made inside that
    /// namespace and connects there: `127.0.0.1` is then that namespace's loopback. The socket stays in it for its
    /// whole life; the calling thread is back in its own namespace before this returns.
    public static func connect(to address: SocketAddress, networkNamespace: String? = nil) throws(SystemError) -> (
        fd: Int32, inProgress: Bool
    ) {
        let type = cl_SOCK_STREAM | cl_SOCK_NONBLOCK | cl_SOCK_CLOEXEC
        let fd: Int32
        if let networkNamespace {
            fd = try namespacedSocket(family: address.family, type: type, networkNamespace: networkNamespace)
        } else {
            fd = try systemCall("socket", { socket(address.family, type, 0) })
        }
        let result = try address.withSockAddr { (p, len) throws(SystemError) in Glibc.connect(fd, p, len) }
        if result == 0 { return (fd, false) }
        let code = cl_errno()
        if code == EINPROGRESS || code == EINTR { return (fd, true) }
        close(fd)
        throw SystemError(call: "connect(\(address))", errno: code)
    }

    private static func namespacedSocket(family: Int32, type: Int32, networkNamespace path: String) throws(SystemError)
        -> Int32
    {
        let target = try systemCall("open(\(path))", { open(path, O_RDONLY | O_CLOEXEC) })
        defer { close(target) }
        let home = try systemCall(
            "open(/proc/thread-self/ns/net)", { open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC) })
        defer { close(home) }
        return try systemCall("setns(\(path)) and socket", { cl_socket_in_netns(target, home, family, type) })
    }

    /// The error a non-blocking connect finished with (0 when it succeeded).
    public static func pendingError(_ fd: Int32) -> Int32 {
        var value: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        if getsockopt(fd, SOL_SOCKET, SO_ERROR, &value, &length) != 0 { return cl_errno() }
        return value
    }

    public static func setOption(_ fd: Int32, _ level: Int32, _ name: Int32, _ value: Int32) throws(SystemError) {
        var v = value
        _ = try systemCall(
            "setsockopt(\(name))", { setsockopt(fd, level, name, &v, socklen_t(MemoryLayout<Int32>.size)) })
    }

    /// Disables Nagle's algorithm: responses are written whole, so waiting for more bytes only adds latency.
    public static func setNoDelay(_ fd: Int32) {
        var one: Int32 = 1
        _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    public static func localAddress(_ fd: Int32) throws(SystemError) -> SocketAddress {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = try withUnsafeMutablePointer(to: &storage) { (p) throws(SystemError) in
            try p.withMemoryRebound(to: sockaddr.self, capacity: 1) { (s) throws(SystemError) in
                try systemCall("getsockname", { getsockname(fd, s, &length) })
            }
        }
        guard let address = SocketAddress(storage: storage) else {
            throw SystemError(call: "getsockname", errno: EAFNOSUPPORT)
        }
        return address
    }

    public static func peerAddress(_ fd: Int32) -> SocketAddress? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let result = withUnsafeMutablePointer(to: &storage) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { getpeername(fd, $0, &length) }
        }
        return result == 0 ? SocketAddress(storage: storage) : nil
    }

    /// Reads into `buffer`; `.processed(0)` means the peer closed its side.
    @inline(__always)
    public static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) throws(SystemError) -> IOResult<
        Int
    > {
        try nonBlockingCall("read", { Glibc.read(fd, buffer.baseAddress, buffer.count) })
    }

    /// Writes from `buffer` without raising SIGPIPE on a closed peer.
    @inline(__always)
    public static func write(_ fd: Int32, from buffer: UnsafeRawBufferPointer) throws(SystemError) -> IOResult<Int> {
        try nonBlockingCall("send", { send(fd, buffer.baseAddress, buffer.count, cl_MSG_NOSIGNAL) })
    }

    /// Writes `bytes[offset...]`; keeps the typed error that `withUnsafeBytes` would erase.
    @inline(__always)
    public static func write(_ fd: Int32, _ bytes: [UInt8], from offset: Int) throws(SystemError) -> IOResult<Int> {
        var result: Result<IOResult<Int>, SystemError> = .success(.wouldBlock)
        bytes.withUnsafeBytes { raw in
            result = Result { () throws(SystemError) in
                try write(fd, from: UnsafeRawBufferPointer(rebasing: raw[offset...]))
            }
        }
        return try result.get()
    }

    public static func shutdownWrite(_ fd: Int32) { _ = Glibc.shutdown(fd, Int32(SHUT_WR)) }

    /// Closes a descriptor. EINTR on close must not be retried on Linux (the descriptor is already gone).
    public static func close(_ fd: Int32) { _ = Glibc.close(fd) }
}
