import Glibc

/// A port for a server to bind later, chosen below the kernel's ephemeral range (32768 and up): a port handed
/// out by binding port 0 comes from that range, where any connection another test opens in the meantime may take
/// it as its local port, and the watchdog's bind then fails with EADDRINUSE.
public func freePort() throws -> Int {
    for _ in 0..<200 {
        let port = Int.random(in: 20_000..<32_000)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        defer { close(fd) }
        var address = RawHTTP.loopbackAddress(port: port)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        if bound == 0 { return port }
    }
    throw RawHTTPError("no free port between 20000 and 32000 on 127.0.0.1")
}
