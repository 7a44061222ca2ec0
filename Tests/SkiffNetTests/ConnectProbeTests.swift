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
        let bound = try RawHTTP.boundLoopbackSocket()
        defer { close(bound) }
        let refusing = try Socket.localAddress(bound)
        // A refusal is an answer, not a timeout: a failed test ends at the bound, a passing one at once.
        #expect(!(await ConnectProbe.accepts(refusing, on: testGroup.next(), within: .seconds(60))))
    }
}
