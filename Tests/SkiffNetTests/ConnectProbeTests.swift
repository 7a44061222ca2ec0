import Glibc
import SkiffNet
import SkiffPOSIX
import SkiffTestSupport
import Testing

/// The watchdog's question "is my function's server up yet?", answered on an event loop.
@Suite("connect probe")
struct ConnectProbeTests {
    @Test func aListenerAcceptsAndABoundSocketThatDoesNotListenRefuses() async throws {
        let loopback = try #require(SocketAddress(host: "127.0.0.1", port: 0))
        let listener = try Socket.listen(on: loopback, reusePort: false)
        defer { Socket.close(listener) }
        let listening = try Socket.localAddress(listener)
        #expect(await ConnectProbe.accepts(listening, on: testGroup.next(), within: .seconds(60)))

        // Bound, never listening: the port stays this test's, and the kernel answers with a reset at once.
        let bound = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(bound) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(bound, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        try #require(result == 0)
        let refusing = try Socket.localAddress(bound)
        // A refusal is an answer, not a timeout: a failed test ends at the bound, a passing one at once.
        #expect(!(await ConnectProbe.accepts(refusing, on: testGroup.next(), within: .seconds(60))))
    }
}
