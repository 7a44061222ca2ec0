import CLinux
import Glibc

/// An IPv4 or IPv6 socket address, parsed from literals only (no DNS: resolution would block a loop thread).
public enum SocketAddress: Sendable, Hashable, CustomStringConvertible {
    case v4(sockaddr_in)
    case v6(sockaddr_in6)

    /// Parses `host` as an IPv4 or IPv6 literal; `localhost` means 127.0.0.1.
    /// Returns nil for names that would need a resolver.
    public init?(host: String, port: Int) {
        guard (0...65535).contains(port) else { return nil }
        let literal = host == "localhost" ? "127.0.0.1" : host
        let trimmed =
            literal.hasPrefix("[") && literal.hasSuffix("]") ? String(literal.dropFirst().dropLast()) : literal
        var v4 = sockaddr_in()
        if inet_pton(AF_INET, trimmed, &v4.sin_addr) == 1 {
            v4.sin_family = sa_family_t(AF_INET)
            v4.sin_port = in_port_t(UInt16(port).bigEndian)
            self = .v4(v4)
            return
        }
        var v6 = sockaddr_in6()
        if inet_pton(AF_INET6, trimmed, &v6.sin6_addr) == 1 {
            v6.sin6_family = sa_family_t(AF_INET6)
            v6.sin6_port = in_port_t(UInt16(port).bigEndian)
            self = .v6(v6)
            return
        }
        return nil
    }

    /// Parses `HOST:PORT`, `[V6]:PORT` or `:PORT` (all IPv4 interfaces).
    public init?(parsing text: String) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]) else { return nil }
        let host = String(text[..<colon])
        self.init(host: host.isEmpty ? "0.0.0.0" : host, port: port)
    }

    public var family: Int32 {
        switch self {
        case .v4: return AF_INET
        case .v6: return AF_INET6
        }
    }

    public var port: Int {
        switch self {
        case .v4(let a): return Int(UInt16(bigEndian: a.sin_port))
        case .v6(let a): return Int(UInt16(bigEndian: a.sin6_port))
        }
    }

    public var host: String {
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        switch self {
        case .v4(var a): _ = inet_ntop(AF_INET, &a.sin_addr, &buffer, socklen_t(buffer.count))
        case .v6(var a): _ = inet_ntop(AF_INET6, &a.sin6_addr, &buffer, socklen_t(buffer.count))
        }
        return buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    /// 127.0.0.0/8 or ::1: only this machine can connect.
    public var isLoopback: Bool {
        switch self {
        case .v4(let a): return UInt32(bigEndian: a.sin_addr.s_addr) >> 24 == 127
        case .v6: return host == "::1"
        }
    }

    public var description: String {
        switch self {
        case .v4: return "\(host):\(port)"
        case .v6: return "[\(host)]:\(port)"
        }
    }

    /// Calls `body` with a pointer to the raw sockaddr and its length.
    public func withSockAddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) throws(SystemError) -> R)
        throws(SystemError) -> R
    {
        switch self {
        case .v4(var a):
            return try withUnsafePointer(to: &a) { (p) throws(SystemError) -> R in
                try p.withMemoryRebound(to: sockaddr.self, capacity: 1) { (s) throws(SystemError) -> R in
                    try body(s, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        case .v6(var a):
            return try withUnsafePointer(to: &a) { (p) throws(SystemError) -> R in
                try p.withMemoryRebound(to: sockaddr.self, capacity: 1) { (s) throws(SystemError) -> R in
                    try body(s, socklen_t(MemoryLayout<sockaddr_in6>.size))
                }
            }
        }
    }

    /// Compares family, port and address bytes (cheap enough to key connection pools per request).
    public static func == (lhs: SocketAddress, rhs: SocketAddress) -> Bool {
        switch (lhs, rhs) {
        case (.v4(let a), .v4(let b)):
            return a.sin_port == b.sin_port && a.sin_addr.s_addr == b.sin_addr.s_addr
        case (.v6(var a), .v6(var b)):
            return a.sin6_port == b.sin6_port
                && withUnsafeBytes(of: &a.sin6_addr) { x in
                    withUnsafeBytes(of: &b.sin6_addr) { y in x.elementsEqual(y) }
                }
        default:
            return false
        }
    }

    public func hash(into hasher: inout Hasher) {
        switch self {
        case .v4(let a):
            hasher.combine(a.sin_port)
            hasher.combine(a.sin_addr.s_addr)
        case .v6(var a):
            hasher.combine(a.sin6_port)
            withUnsafeBytes(of: &a.sin6_addr) { hasher.combine(bytes: $0) }
        }
    }

    init?(storage: sockaddr_storage) {
        var storage = storage
        switch Int32(storage.ss_family) {
        case AF_INET:
            self = .v4(withUnsafeBytes(of: &storage) { $0.load(as: sockaddr_in.self) })
        case AF_INET6:
            self = .v6(withUnsafeBytes(of: &storage) { $0.load(as: sockaddr_in6.self) })
        default:
            return nil
        }
    }
}

extension SocketAddress {
    /// Resolves a host name through getaddrinfo (files, DNS): the first IPv4 or IPv6 stream address, nil when there
    /// is none. Blocks the calling thread, so it is for command-line tools, never for a loop thread.
    public static func lookUp(host: String, port: Int) -> SocketAddress? {
        guard (0...65535).contains(port) else { return nil }
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &result) == 0 else { return nil }
        defer { freeaddrinfo(result) }
        var cursor = result
        while let entry = cursor {
            if let address = entry.pointee.ai_addr {
                switch entry.pointee.ai_family {
                case AF_INET:
                    return .v4(address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee })
                case AF_INET6:
                    return .v6(address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee })
                default:
                    break
                }
            }
            cursor = entry.pointee.ai_next
        }
        return nil
    }
}
