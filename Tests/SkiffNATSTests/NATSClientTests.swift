import Foundation
import Glibc
import SkiffNATS
import SkiffPOSIX
import SkiffTestSupport
import Testing

@testable import SkiffNATSClient

/// Skiff's own NATS client (what its triggers speak): framing read byte by byte, and the client against Skiff's
/// broker and against nats-server, with the same outcome on both.
@Suite("NATS client")
struct NATSClientTests {
    private func parse(_ text: String) throws -> ([ServerOperation], Int) {
        let bytes = Array(text.utf8)
        return try bytes.withUnsafeBufferPointer { try ServerParser.parse($0, maxPayload: 1 << 20) }
    }

    @Test func serverOperationsAreReadWholeOrNotAtAll() throws {
        let stream =
            "INFO {\"max_payload\":1048576}\r\nPING\r\n+OK\r\nMSG a.b 7 5\r\nhello\r\n"
            + "HMSG in 2 _INBOX.x 23 25\r\nNATS/1.0\r\nK: v\r\nX:y\r\n\r\nhi\r\nPONG\r\n-ERR 'Stale Connection'\r\n"
        let (all, consumed) = try parse(stream)
        #expect(consumed == stream.utf8.count)
        #expect(
            all == [
                .info(Array("{\"max_payload\":1048576}".utf8)), .ping, .ok,
                .message(sid: 7, NATSMessage(subject: "a.b", payload: Array("hello".utf8))),
                .message(
                    sid: 2,
                    NATSMessage(
                        subject: "in", reply: "_INBOX.x", headers: [NATSHeader("K", "v"), NATSHeader("X", "y")],
                        payload: Array("hi".utf8))),
                .pong, .error("Stale Connection"),
            ])
        // Cut anywhere, the operations before the cut are read and the rest waits, never half a message.
        for cut in 0..<stream.utf8.count {
            let (some, used) = try parse(String(decoding: Array(stream.utf8)[..<cut], as: UTF8.self))
            #expect(some == Array(all.prefix(some.count)) && used <= cut, "cut at \(cut)")
        }
        let (noResponders, _) = try parse("HMSG _INBOX.r 1 16 16\r\nNATS/1.0 503\r\n\r\n\r\n")
        #expect(noResponders == [.message(sid: 1, NATSMessage(subject: "_INBOX.r", status: 503, payload: []))])
        for bad in ["WHAT\r\n", "MSG a x 1\r\nx\r\n", "MSG a 1 -1\r\n", "MSG a 1 99999999999\r\n", "MSG a\r\n"] {
            #expect(throws: ServerParser.ProtocolError.self, "\(bad)") { try parse(bad) }
        }
    }

    /// Header blocks as servers and clients write them: a status after the version, blanks around names and
    /// values, a line without a colon (skipped, as nats.go does), values with colons and non-ASCII text.
    @Test func headerBlocksReadBackAsWritten() throws {
        let written = [NATSHeader("X-Call-Id", "a:b:c"), NATSHeader("Ünï", "流 ✓"), NATSHeader("Empty", "")]
        #expect(HeaderBlock.decode(HeaderBlock.encode(written)[...])?.headers == written)
        #expect(HeaderBlock.decode(HeaderBlock.encode(written)[...])?.status == nil)
        let block = Array("NATS/1.0 503 No Responders\r\n \tK :\t v w \r\nno colon\r\n\r\n".utf8)
        let decoded = try #require(HeaderBlock.decode(block[...]))
        #expect(decoded.status == 503 && decoded.headers == [NATSHeader("K", "v w")])
        #expect(HeaderBlock.decode(Array("HTTP/1.1 200\r\n\r\n".utf8)[...]) == nil)
    }

    @Test func subjectsAndHeadersTheProtocolCannotCarryAreRefusedBeforeSending() throws {
        for bad in ["", "a..b", "a b", "a\r\nPUB x 1", ".a", "a.", "a.>.b"] {
            #expect(throws: NATSClientError.self, "\(bad)") { try NATSClient.checkSubject(bad, wildcards: true) }
        }
        #expect(throws: NATSClientError.self) { try NATSClient.checkSubject("a.*", wildcards: false) }
        try NATSClient.checkSubject("orders.*.>", wildcards: true)
    }

    /// Publish with and without headers, a queue group that shares, a request answered on its reply subject,
    /// and flush as a barrier: on Skiff's broker and on nats-server alike.
    @Test func publishSubscribeQueueGroupsAndReplies() async throws {
        try await onBothBrokers { broker in
            let address = try #require(SocketAddress(host: "127.0.0.1", port: broker.port))
            let client = try await NATSClient.connect(to: address, loop: testGroup.next())
            let other = try await NATSClient.connect(to: address, loop: testGroup.next())
            let plain = try await client.subscribe("orders.>")
            let first = try await client.subscribe("work", queue: "workers")
            let second = try await other.subscribe("work", queue: "workers")
            try await client.flush()
            try await other.flush()

            try await other.publish(
                "orders.eu.42", reply: "answers.1", headers: [NATSHeader("Trace", "t-1")], payload: Array("one".utf8))
            try await other.publish("orders.us", payload: [])
            try await other.flush()
            var received: [NATSMessage] = []
            for try await message in plain {
                received.append(message)
                if received.count == 2 { break }
            }
            #expect(received.map(\.subject) == ["orders.eu.42", "orders.us"], "\(broker.name)")
            #expect(received[0].reply == "answers.1" && received[0].header("trace") == "t-1")
            #expect(received[0].payload == Array("one".utf8) && received[1].payload.isEmpty)

            for index in 0..<20 { try await other.publish("work", payload: Array("\(index)".utf8)) }
            // Each client's PONG comes after every message routed to it before: once both have flushed, all 20
            // are in the subscriptions' buffers, which an unsubscribe ends without emptying.
            try await other.flush()
            try await client.flush()
            await client.unsubscribe(first)
            await other.unsubscribe(second)
            var counts: [Int] = []
            for subscription in [first, second] {
                var count = 0
                for await _ in subscription { count += 1 }
                counts.append(count)
            }
            #expect(counts.reduce(0, +) == 20, "\(broker.name): \(counts)")
            await client.close()
            await other.close()
            #expect(await client.closed() == .closed("closed by this client"))
        }
    }

    /// The servers' auth timeouts are a minute here: under CI's load a test loop was once busy for over two seconds
    /// before the CONNECT went out, and this test is about credentials, not about time.
    @Test func wrongCredentialsAreRejectedWithTheServersReason() async throws {
        let conf = FileManager.default.temporaryDirectory.appendingPathComponent("nats-\(UUID()).conf").path
        try "authorization { token: \"s3cret\", timeout: 60 }\n".write(toFile: conf, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: conf) }
        let patient: (inout NATSConfiguration) -> Void = {
            $0.authorization = .token("s3cret")
            $0.authTimeout = .seconds(60)
        }
        try await onBothBrokers(skiff: patient, reference: ["-c", conf]) { broker in
            let address = try #require(SocketAddress(host: "127.0.0.1", port: broker.port))
            var options = NATSClientOptions()
            options.token = "wrong"
            await #expect(throws: NATSClientError.self) {
                _ = try await NATSClient.connect(to: address, options: options, loop: testGroup.next())
            }
            // Refused, with the server's own words.
            do {
                _ = try await NATSClient.connect(to: address, options: options, loop: testGroup.next())
            } catch let error as NATSClientError {
                guard case .rejected(let reason) = error else {
                    Issue.record("\(broker.name): \(error)")
                    return
                }
                #expect(reason.lowercased().contains("authorization violation"), "\(broker.name): \(reason)")
            }
            options.token = "s3cret"
            let client = try await NATSClient.connect(to: address, options: options, loop: testGroup.next())
            try await client.flush()
            await client.close()
        }
    }

    /// The daemon's services reach the broker in their own process over a socketpair, without a port.
    @Test func aClientAdoptsOneEndOfASocketpairTheBrokerServes() async throws {
        let broker = try await SkiffBroker()
        defer { Task { await broker.stop() } }
        let (brokerEnd, clientEnd) = try Socket.pair()
        #expect(broker.server.serveConnected(brokerEnd))
        let client = try await NATSClient.adopt(socket: clientEnd, loop: testGroup.next())
        let subscription = try await client.subscribe("local")
        try await client.publish("local", payload: Array("in-process".utf8))
        var iterator = subscription.makeAsyncIterator()
        #expect(await iterator.next()?.payload == Array("in-process".utf8))
        await client.close()
    }

    /// A wait for the close ends when its task is cancelled, and leaves the connection open: a service that
    /// stops waiting is not held by a connection that stays up.
    @Test func waitingForTheCloseEndsWhenTheWaiterIsCancelled() async throws {
        let broker = try await SkiffBroker()
        defer { Task { await broker.stop() } }
        let address = try #require(SocketAddress(host: "127.0.0.1", port: broker.port))
        let client = try await NATSClient.connect(to: address, loop: testGroup.next())
        let waiting = Task { await client.closed() }
        waiting.cancel()
        #expect(await waiting.value == nil)
        try await client.flush()
        await client.close()
        #expect(await client.closed() == .closed("closed by this client"))
    }

    @Test func aRefusedConnectIsItsOwnError() async throws {
        // A port held by a socket that is bound but not listening: nothing can take it meanwhile.
        let held = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(held) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(held, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        #expect(bound == 0)
        let port = try Socket.localAddress(held).port
        let target = try #require(SocketAddress(host: "127.0.0.1", port: port))
        await #expect(throws: NATSClientError.connect("Connection refused")) {
            _ = try await NATSClient.connect(to: target, loop: testGroup.next())
        }
    }
}
