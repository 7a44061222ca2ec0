import Glibc
import SkiffNet
import SkiffPOSIX
import SkiffTestSupport
import Synchronization
import Testing

/// A protocol that is not HTTP, composed on the transport as the NATS broker will be: each line comes back in
/// capitals, `quit` is answered with `BYE` and closes once that has been written.
private final class LineEcho: StreamHandler {
    let transport: StreamConnection
    let events: AsyncStream<String>.Continuation
    let closed: () -> Void
    private var closing = false

    init(transport: StreamConnection, events: AsyncStream<String>.Continuation, closed: @escaping () -> Void) {
        self.transport = transport
        self.events = events
        self.closed = closed
    }

    func process(_ input: UnsafeBufferPointer<UInt8>) -> Int {
        var consumed = 0
        while !closing, let newline = input[consumed...].firstIndex(of: 10) {
            let line = String(decoding: input[consumed..<newline], as: UTF8.self)
            consumed = newline + 1
            if line == "quit" {
                transport.out.bytes += Array("BYE\n".utf8)
                closing = true
            } else {
                transport.out.bytes += Array(line.uppercased().utf8) + [10]
            }
        }
        transport.requestFlush()
        return consumed
    }

    var keepsLeftover: Bool { !closing }
    func leftoverKept() { events.yield("kept \(transport.pending.count)") }
    func peerClosed() { close("peer closed") }
    func readFailed(_ error: SystemError) { close("read failed") }
    func writeFailed(_ error: SystemError) { close("write failed") }
    func outputDrained() { if closing { close("said bye") } }

    private func close(_ why: String) {
        guard !transport.isClosed else { return }
        transport.close(failingWritersWith: CancellationError())
        // Counted out before it is reported, so that a test that heard of it sees the count already lowered.
        closed()
        events.yield("closed: \(why)")
    }
}

/// The acceptor, reachable from the connections it adopted.
private final class AcceptorBox: @unchecked Sendable {
    var acceptor: StreamAcceptor?
}

private let group: EventLoopGroup = try! EventLoopGroup(loopCount: 2)

/// Serves LineEcho on a free loopback port; `events` reports what the connections' handlers saw.
private func withLineServer(
    maxConnections: Int = 100,
    _ body: (StreamAcceptor, Int, AsyncStream<String>) async throws -> Void
) async throws {
    let (events, continuation) = AsyncStream<String>.makeStream()
    let box = AcceptorBox()
    let loopback = try #require(SocketAddress(host: "127.0.0.1", port: 0))
    let acceptor = StreamAcceptor(
        configuration: .init(
            addresses: [loopback], maxConnections: maxConnections,
            refusal: Array("-ERR 'maximum connections exceeded'\r\n".utf8)),
        group: group
    ) { fd, loop in
        let transport = StreamConnection(fd: fd, loop: loop, readBuffer: ReadBuffer())
        let handler = LineEcho(transport: transport, events: continuation) {
            box.acceptor?.connectionClosed(on: loop)
        }
        do {
            try transport.start(handler: handler)
        } catch {
            box.acceptor?.connectionClosed(on: loop)
        }
    }
    box.acceptor = acceptor
    let addresses = try await acceptor.start()
    defer { continuation.finish() }
    do {
        try await body(acceptor, addresses[0].port, events)
        await acceptor.stop()
    } catch {
        await acceptor.stop()
        throw error
    }
}

@Suite("Stream transport with a line protocol")
struct LineProtocolTests {
    @Test func aProtocolOtherThanHTTPComposesTheTransport() async throws {
        try await withLineServer { _, port, events in
            let answer = try await RawHTTP.exchange(port: port, "hello\nworld\nquit\nignored\n")
            #expect(answer.text == "HELLO\nWORLD\nBYE\n")
            var iterator = events.makeAsyncIterator()
            #expect(await iterator.next() == "closed: said bye")
        }
    }

    @Test func anIncompleteMessageIsKeptUntilTheRestArrives() async throws {
        try await withLineServer { _, port, events in
            let fd = try RawHTTP.connect(port: port)
            defer { Glibc.close(fd) }
            var iterator = events.makeAsyncIterator()
            RawHTTP.send(fd, Array("hel".utf8))
            // The handler consumed nothing of "hel": the transport keeps it and says so.
            #expect(await iterator.next() == "kept 3")
            RawHTTP.send(fd, Array("lo\nquit\n".utf8))
            let answer = try await RawHTTP.readToClose(fd)
            #expect(answer.text == "HELLO\nBYE\n")
            #expect(await iterator.next() == "closed: said bye")
        }
    }

    @Test func pastTheLimitAConnectionGetsTheProtocolsRefusal() async throws {
        try await withLineServer(maxConnections: 1) { acceptor, port, events in
            let held = try RawHTTP.connect(port: port)
            defer { Glibc.close(held) }
            RawHTTP.send(held, Array("ping\n".utf8))
            #expect(try await RawHTTP.read(held, untilSuffix: "PING\n").text == "PING\n")
            #expect(acceptor.connectionCount == 1)

            // Nothing sent: bytes the acceptor never reads would turn its close into a reset, which can destroy the
            // refusal before it is read.
            let refused = try await RawHTTP.exchange(port: port, "")
            #expect(refused.text == "-ERR 'maximum connections exceeded'\r\n")

            // The held connection ends; its slot is free again.
            Glibc.shutdown(held, Int32(SHUT_WR))
            var iterator = events.makeAsyncIterator()
            #expect(await iterator.next() == "closed: peer closed")
            #expect(acceptor.connectionCount == 0)
            let served = try await RawHTTP.exchange(port: port, "again\nquit\n")
            #expect(served.text == "AGAIN\nBYE\n")
        }
    }

    @Test func connectionsAreSpreadOverTheLoops() async throws {
        try await withLineServer { acceptor, port, _ in
            let connections = try (0..<6).map { _ in try RawHTTP.connect(port: port) }
            defer { for fd in connections { Glibc.close(fd) } }
            for fd in connections {
                RawHTTP.send(fd, Array("x\n".utf8))
                #expect(try await RawHTTP.read(fd, untilSuffix: "X\n").text == "X\n")
            }
            #expect(acceptor.connectionCount == 6)
            #expect(acceptor.connectionsByLoop == [3, 3])
        }
    }
}
