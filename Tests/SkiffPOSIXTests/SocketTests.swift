import SkiffPOSIX
import Testing

@Suite("Sockets and addresses")
struct SocketTests {
    @Test(arguments: [
        ("127.0.0.1", 80, "127.0.0.1:80"), ("::1", 8080, "[::1]:8080"), ("localhost", 1, "127.0.0.1:1"),
        ("[::1]", 2, "[::1]:2"), ("0.0.0.0", 0, "0.0.0.0:0"),
    ])
    func literalsParse(host: String, port: Int, description: String) {
        #expect(SocketAddress(host: host, port: port)?.description == description)
    }

    @Test func namesAndBadPortsAreRejected() {
        #expect(SocketAddress(host: "example.org", port: 80) == nil)
        #expect(SocketAddress(host: "127.0.0.1", port: 70000) == nil)
        #expect(SocketAddress(parsing: ":8080")?.description == "0.0.0.0:8080")
        #expect(SocketAddress(parsing: "[::]:9")?.description == "[::]:9")
        #expect(SocketAddress(parsing: "nonsense") == nil)
    }

    @Test func bindingAUsedPortReportsEADDRINUSE() throws {
        let first = try Socket.listen(on: SocketAddress(host: "127.0.0.1", port: 0)!, reusePort: false)
        defer { Socket.close(first) }
        let port = try Socket.localAddress(first).port
        #expect(throws: SystemError(call: "bind(127.0.0.1:\(port))", errno: 98)) {
            _ = try Socket.listen(on: SocketAddress(host: "127.0.0.1", port: port)!, reusePort: false)
        }
        #expect(SystemError(call: "bind", errno: 98).description.contains("Address already in use"))
    }
}
