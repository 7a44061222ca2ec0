import Foundation
import Glibc
import SkiffPOSIX
import SkiffTestSupport
import Synchronization
import Testing

@testable import SkiffHTTP

/// A one-connection server that misbehaves on purpose, to provoke each client error.
enum RawBehaviour: Sendable {
    case closeAfterRequest
    case resetAfterRequest
    case closeDelimited(String)
}

/// Listens on a free loopback port; serves one connection with `behaviour` on a thread of its own.
func rawServer(_ behaviour: RawBehaviour) throws -> Int {
    let fd = try Socket.listen(on: SocketAddress(host: "127.0.0.1", port: 0)!, reusePort: false)
    let port = try Socket.localAddress(fd).port
    try PosixThread.detach(name: "raw-server") {
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&pfd, 1, 5000) > 0 else {
            Socket.close(fd)
            return
        }
        let client = accept(fd, nil, nil)
        Socket.close(fd)
        guard client >= 0 else { return }
        // The listener was non-blocking and so is the accepted socket: make it blocking for this simple script.
        _ = fcntl(client, F_SETFL, 0)
        var buffer = [UInt8](repeating: 0, count: 65536)
        var received: [UInt8] = []
        while !received.ends(with: Array("\r\n\r\n".utf8)) {
            let n = recv(client, &buffer, buffer.count, 0)
            if n <= 0 { break }
            received += buffer[0..<n]
        }
        switch behaviour {
        case .closeAfterRequest:
            close(client)
        case .resetAfterRequest:
            var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
            setsockopt(client, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
            close(client)
        case .closeDelimited(let text):
            let bytes = Array(text.utf8)
            _ = bytes.withUnsafeBytes { send(client, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            close(client)
        }
    }
    return port
}

@Suite("HTTP client")
struct HTTPClientTests {
    let client = HTTPClient(group: testGroup)

    @Test func urlsAreParsed() throws {
        let plain = try HTTPClientRequest(url: "http://127.0.0.1:8080/function/echo?x=1")
        #expect(plain.host == "127.0.0.1" && plain.port == 8080 && plain.target == "/function/echo?x=1")
        let bare = try HTTPClientRequest(url: "http://localhost")
        #expect(bare.port == 80 && bare.target == "/")
        let v6 = try HTTPClientRequest(url: "http://[::1]:9/x")
        #expect(v6.host == "::1" && v6.port == 9)
        #expect(throws: HTTPClientError.self) { try HTTPClientRequest(url: "https://example/") }
        #expect(throws: HTTPClientError.self) { try HTTPClientRequest(url: "http://host:notaport/") }
    }

    @Test func refusedConnectionIsItsOwnError() async throws {
        // A socket bound but never listening holds the port for the whole test (no other test can start
        // listening on it), and the kernel answers a connection to it with a reset.
        let fd = try RawHTTP.boundLoopbackSocket()
        defer { close(fd) }
        let port = try Socket.localAddress(fd).port
        await #expect(throws: HTTPClientError.connectionRefused(address: "127.0.0.1:\(port)")) {
            _ = try await client.execute(HTTPClientRequest(url: "http://127.0.0.1:\(port)/"))
        }
    }

    @Test func connectTimeoutIsItsOwnError() async throws {
        // A listener that never accepts, with its backlog filled, leaves further SYNs unanswered.
        let fd = try RawHTTP.boundLoopbackSocket()
        listen(fd, 0)
        defer { close(fd) }
        let port = try Socket.localAddress(fd).port
        var fillers: [Int32] = []
        defer { for filler in fillers { close(filler) } }
        for _ in 0..<8 {
            guard let started = try? Socket.connect(to: SocketAddress(host: "127.0.0.1", port: port)!) else { break }
            fillers.append(started.fd)
        }
        try await Task.sleep(for: .milliseconds(100))
        var configuration = HTTPClient.Configuration()
        configuration.connectTimeout = .milliseconds(300)
        let impatient = HTTPClient(group: testGroup, configuration: configuration)
        let started = ContinuousClock.now
        await #expect(throws: HTTPClientError.connectTimeout(address: "127.0.0.1:\(port)")) {
            _ = try await impatient.execute(HTTPClientRequest(url: "http://127.0.0.1:\(port)/"))
        }
        // Far below the kernel's own connect timeout (about two minutes), which is what a missing one would wait.
        #expect(ContinuousClock.now - started < .seconds(60))
    }

    @Test func requestTimeoutIsItsOwnError() async throws {
        let client = self.client
        try await withServer(makeTestRouter()) { _, port in
            await #expect(throws: HTTPClientError.requestTimeout) {
                _ = try await client.execute(
                    HTTPClientRequest(url: "http://127.0.0.1:\(port)/slow?ms=2000"), timeout: .milliseconds(200))
            }
            // The pool stays usable afterwards.
            let after = try await client.fetch(HTTPClientRequest(url: "http://127.0.0.1:\(port)/hello"))
            #expect(after.body == "hello".bytes)
        }
    }

    @Test func resetAndEarlyCloseAreDistinct() async throws {
        let resetting = try rawServer(.resetAfterRequest)
        await #expect(throws: HTTPClientError.connectionReset) {
            _ = try await client.execute(HTTPClientRequest(url: "http://127.0.0.1:\(resetting)/"))
        }
        let closing = try rawServer(.closeAfterRequest)
        await #expect(throws: HTTPClientError.remoteClosed) {
            _ = try await client.execute(HTTPClientRequest(url: "http://127.0.0.1:\(closing)/"))
        }
    }

    @Test func closeDelimitedBodyIsReadToTheEnd() async throws {
        let port = try rawServer(.closeDelimited("HTTP/1.0 200 OK\r\nX-Legacy: cgi\r\n\r\nall of the body"))
        let (head, body) = try await client.fetch(HTTPClientRequest(url: "http://127.0.0.1:\(port)/"))
        #expect(head.status.code == 200 && head.headers["X-Legacy"] == "cgi")
        #expect(String(decoding: body, as: UTF8.self) == "all of the body")
        let truncated = try rawServer(.closeDelimited("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort"))
        let response = try await client.execute(HTTPClientRequest(url: "http://127.0.0.1:\(truncated)/"))
        await #expect(throws: HTTPClientError.remoteClosed) { _ = try await response.body.collect(upTo: 1000) }
    }

    @Test func connectionsAreReusedAndStaleOnesReplaced() async throws {
        let configuration = loopback { $0.idleTimeout = .milliseconds(200) }
        try await withServer(makeTestRouter(), configuration) { server, port in
            for _ in 0..<10 {
                let answer = try await client.fetch(HTTPClientRequest(url: "http://127.0.0.1:\(port)/hello"))
                #expect(answer.body == "hello".bytes)
            }
            // Callers outside the loops are spread over them, and each loop keeps its own pool.
            #expect(server.connectionCount <= testGroup.loops.count)
            // The server drops the idle connection; the next request still succeeds on a new one.
            let dropped = await waitUntil { server.connectionCount == 0 }
            #expect(dropped)
            let afterDrop = try await client.fetch(HTTPClientRequest(url: "http://127.0.0.1:\(port)/hello"))
            #expect(afterDrop.body == "hello".bytes)
        }
    }

    @Test func redirectsAreReturnedNotFollowed() async throws {
        var router = HTTPRouter()
        try router.add(.get, "/old") { _ in HTTPResponse(status: .found, headers: ["Location": "/new"]) }
        try await withServer(router) { _, port in
            let (head, _) = try await client.fetch(HTTPClientRequest(url: "http://127.0.0.1:\(port)/old"))
            #expect(head.status.code == 302 && head.headers["Location"] == "/new")
        }
    }

    @Test func headAndChunkedResponses() async throws {
        try await withServer(makeTestRouter()) { _, port in
            let head = try await client.fetch(HTTPClientRequest(method: .head, url: "http://127.0.0.1:\(port)/hello"))
            #expect(head.head.headers["Content-Length"] == "5" && head.body.isEmpty)
            let stream = try await client.fetch(HTTPClientRequest(url: "http://127.0.0.1:\(port)/stream"))
            #expect(String(decoding: stream.body, as: UTF8.self) == "{\"line\":0}\n{\"line\":1}\n{\"line\":2}\n")
            // Still reusable after a chunked response.
            #expect(
                try await client.fetch(HTTPClientRequest(url: "http://127.0.0.1:\(port)/hello")).body == "hello".bytes)
        }
    }

    @Test func proxiesStreamBothWaysThroughTheEngine() async throws {
        try await withServer(makeTestRouter()) { _, upstreamPort in
            let proxy = HTTPHandler { request in
                let forward = HTTPClientRequest(forwarding: request, host: "127.0.0.1", port: upstreamPort)
                let response = try await client.execute(forward)
                return HTTPResponse(forwarding: response)
            }
            try await withServer(proxy) { _, proxyPort in
                let payload = (0..<(8 * 1024 * 1024)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 9) }
                // Fixed length: forwarded with its Content-Length.
                let echoed = try await client.fetch(
                    HTTPClientRequest(method: .post, url: "http://127.0.0.1:\(proxyPort)/echo", body: .bytes(payload)))
                #expect(echoed.head.status.code == 200)
                #expect(echoed.body == payload)
                // Unknown length: chunked through both hops.
                let offset = Mutex(0)
                let streamed = HTTPBody.producing {
                    offset.withLock { at in
                        guard at < payload.count else { return nil }
                        defer { at += 100_000 }
                        return Array(payload[at..<min(at + 100_000, payload.count)])
                    }
                }
                let chunked = try await client.fetch(
                    HTTPClientRequest(method: .post, url: "http://127.0.0.1:\(proxyPort)/echo", body: streamed))
                #expect(chunked.body == payload)
                let lines = try await client.fetch(HTTPClientRequest(url: "http://127.0.0.1:\(proxyPort)/stream"))
                #expect(String(decoding: lines.body, as: UTF8.self).split(separator: "\n").count == 3)
            }
        }
    }

    /// A CGI-style server answers 200 before it reads the body (it prints its headers first), then reads it all
    /// and writes the result. The client must keep uploading after that early success, or both sides wait forever.
    @Test func anEarlySuccessDoesNotStopTheUpload() async throws {
        let client = self.client
        let early = HTTPHandler { request in
            HTTPResponse(
                status: .ok,
                body: .stream { writer in
                    try await writer.flush()  // the head goes out now, before any of the body is read
                    var count = 0
                    for try await chunk in request.body { count += chunk.count }
                    try await writer.write("read \(count)")
                })
        }
        try await withServer(early) { _, port in
            let total = 4 * 1024 * 1024
            let sent = Mutex(0)
            // Slowly enough that the early answer arrives while the body is still going out.
            let body = HTTPBody.producing(length: total) {
                try await Task.sleep(for: .milliseconds(1))
                return sent.withLock { at -> [UInt8]? in
                    guard at < total else { return nil }
                    defer { at += 65536 }
                    return [UInt8](repeating: 7, count: min(65536, total - at))
                }
            }
            let answer = try await client.fetch(
                HTTPClientRequest(method: .post, url: "http://127.0.0.1:\(port)/cgi", body: body),
                timeout: .seconds(120)
            )
            #expect(answer.head.status.code == 200)
            #expect(String(decoding: answer.body, as: UTF8.self) == "read \(total)")
        }
    }

    @Test func aLargeBodyCrossesTheProxyInBoundedMemory() async throws {
        let client = self.client
        try await withServer(makeTestRouter()) { _, upstreamPort in
            let proxy = HTTPHandler { request in
                let response = try await client.execute(
                    HTTPClientRequest(forwarding: request, host: "127.0.0.1", port: upstreamPort))
                return HTTPResponse(forwarding: response)
            }
            // The proxy forwards bodies of any size (the gateway's invocation route sets its own limit).
            let configuration = loopback { $0.maxBodyBytes = 1 << 40 }
            try await withServer(proxy, configuration) { _, proxyPort in
                let total = 1 << 30  // the "1 GB upload"; holding it would dwarf other tests' noise
                let upload = GeneratedUpload(total: total)
                let body = upload.body()
                let before = residentBytes()
                let (head, reply) = try await client.fetch(
                    HTTPClientRequest(method: .post, url: "http://127.0.0.1:\(proxyPort)/count", body: body))
                let grown = residentBytes() - before
                #expect(head.status.code == 200)
                #expect(String(decoding: reply, as: UTF8.self) == "\(total) true")
                // Client, proxy and backend all live in this process: none of them may have held the body.
                #expect(grown < 160 * 1024 * 1024, "resident memory grew by \(grown) bytes")
            }
        }
    }

    @Test func anEarlyErrorAnswerStopsTheUploadAndIsReturned() async throws {
        let client = self.client
        try await withServer(makeTestRouter()) { _, port in
            let total = 64 * 1024 * 1024
            let upload = GeneratedUpload(total: total)
            let body = upload.body()
            // /small takes 16 bytes: the server answers 413 at once; the client gets that answer, not a reset,
            // and stops producing long before the 64 MiB are sent.
            let (head, reply) = try await client.fetch(
                HTTPClientRequest(method: .post, url: "http://127.0.0.1:\(port)/small", body: body))
            #expect(head.status.code == 413)
            #expect(String(decoding: reply, as: UTF8.self).contains("limit of 16 bytes"))
            #expect(upload.sent < total / 2)
        }
    }
}

@Suite("relaying a proxied body")
struct ForwardedBodyTests {
    /// What a proxy holds for an answer (a replica counted busy) is let go exactly once: at once for a body that
    /// arrived whole, after the last chunk of a stream, and when a streamed answer is dropped unsent.
    @Test func theRelayedActionRunsExactlyOnce() async throws {
        let runs = Mutex(0)
        _ = HTTPResponseBody.forwarding(.bytes(Array("whole".utf8))) { runs.withLock { $0 += 1 } }
        #expect(runs.withLock { $0 } == 1)

        var body: HTTPResponseBody? = .forwarding(.producing { nil }) { runs.withLock { $0 += 1 } }
        #expect(runs.withLock { $0 } == 1)
        body = nil
        #expect(body == nil && runs.withLock { $0 } == 2)

        let chunks = Mutex([Array("a".utf8), Array("b".utf8)])
        let streamed = HTTPResponseBody.forwarding(
            .producing { chunks.withLock { $0.isEmpty ? nil : $0.removeFirst() } }
        ) { runs.withLock { $0 += 1 } }
        var router = HTTPRouter()
        try router.add(.get, "/") { _ in HTTPResponse(body: streamed) }
        try await withServer(router) { _, port in
            let client = HTTPClient(group: testGroup)
            let (_, bytes) = try await client.fetch(HTTPClientRequest(host: "127.0.0.1", port: port))
            #expect(bytes == Array("ab".utf8))
        }
        #expect(runs.withLock { $0 } == 3)
    }
}
