import Foundation
import SkiffPOSIX
import Synchronization
import Testing

@testable import SkiffHTTP

/// Responder used by the wire tests: echo, streaming, slow and counting routes.
func makeTestRouter() throws -> HTTPRouter {
    var router = HTTPRouter()
    try router.add(.get, "/hello") { _ in HTTPResponse(body: .string("hello")) }
    try router.add(.get, "/path/{rest...}") { request in HTTPResponse(body: .string(String(request.head.target))) }
    try router.add(.post, "/echo") { request in
        HTTPResponse(body: .bytes(try await request.body.collect(upTo: 64 << 20)))
    }
    try router.add(.post, "/small", maxBodyBytes: 16) { request in
        HTTPResponse(body: .bytes(try await request.body.collect(upTo: 1 << 20)))
    }
    try router.add(.post, "/count", maxBodyBytes: 2 << 30) { request in
        // Counts bytes and checks each chunk's ends: a per-byte hash of 256 MiB is slow in debug builds.
        var total = 0
        var intact = true
        for try await chunk in request.body {
            total += chunk.count
            if chunk.first != 0x5A || chunk.last != 0x5A { intact = false }
        }
        return HTTPResponse(body: .string("\(total) \(intact)"))
    }
    try router.add(.get, "/stream") { _ in
        HTTPResponse(
            headers: ["Content-Type": "application/x-ndjson"],
            body: .stream { writer in
                for i in 0..<3 {
                    try await writer.write("{\"line\":\(i)}\n")
                    try await writer.flush()
                    try await Task.sleep(for: .milliseconds(50))
                }
            })
    }
    try router.add(.get, "/slow") { request in
        let ms = Int(request.queryValue("ms") ?? "200") ?? 200
        try await Task.sleep(for: .milliseconds(ms))
        return HTTPResponse(body: .string("slow done"))
    }
    try router.add(.get, "/fail") { _ in throw HTTPBodyError.connectionClosed }
    try router.add(.get, "/crash") { _ in
        struct Oops: Error {}
        throw Oops()
    }
    try router.add(.get, "/nocontent") { _ in HTTPResponse(status: .noContent) }
    return router
}

@Suite("HTTP server on loopback")
struct HTTPServerTests {
    /// Connections opened back to back are all accepted by whichever loop wakes first; each goes to the loop
    /// serving the fewest, so keep-alive clients that connect together (a load generator, a pool) use every core.
    @Test func connectionsOpenedTogetherAreSpreadOverTheLoops() async throws {
        var router = HTTPRouter()
        try router.add(.get, "/loop") { _ in HTTPResponse(body: .string("loop=\(EventLoop.current?.index ?? -1);")) }
        try await withServer(router) { _, port in
            let connections = try (0..<8).map { _ in try RawConnection(port: port) }
            var perLoop: [String: Int] = [:]
            for connection in connections {
                connection.send("GET /loop HTTP/1.1\r\nHost: x\r\n\r\n")
                let answer = await connection.read(untilSuffix: ";")
                let loop = answer.split(separator: "=").last.map { String($0.dropLast()) } ?? "?"
                perLoop[loop, default: 0] += 1
            }
            #expect(testGroup.loops.count == 2)
            #expect(perLoop.keys.sorted() == ["0", "1"], "\(perLoop)")
            #expect(perLoop.values.allSatisfy { $0 >= 3 }, "\(perLoop)")
        }
    }

    @Test func servesAndReportsBoundPort() async throws {
        try await withServer(makeTestRouter()) { server, port in
            #expect(port > 0)
            #expect(server.localAddresses.first?.port == port)
            let connection = try RawConnection(port: port)
            connection.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
            let response = await connection.read(untilSuffix: "hello")
            #expect(response.hasPrefix("HTTP/1.1 200 OK\r\n"))
            #expect(response.contains("\r\nContent-Length: 5\r\n"))
            #expect(response.contains("\r\nDate: "))
            #expect(response.contains(" GMT\r\n"))
        }
    }

    @Test func secondServerOnTheSamePortFailsClearly() async throws {
        try await withServer(makeTestRouter()) { _, port in
            let other = HTTPServer(
                configuration: HTTPServerConfiguration(host: "127.0.0.1", port: port), group: testGroup,
                responder: try makeTestRouter())
            await #expect(throws: HTTPServerError.self) { try await other.start() }
            // A start that failed left nothing behind: trying again binds again (and fails the same way), rather
            // than finding the server half-started.
            do {
                try await other.start()
                Issue.record("the port is taken; the second start must fail too")
            } catch {
                guard case .bindFailed = error as? HTTPServerError else {
                    Issue.record("expected the port to be in use again, not \(error)")
                    return
                }
            }
            #expect(other.localAddresses.isEmpty)
        }
    }

    @Test func listensOnIPv6Loopback() async throws {
        let responder = try makeTestRouter()
        let server = HTTPServer(
            configuration: HTTPServerConfiguration(host: "::1", port: 0), group: testGroup, responder: responder)
        let addresses = try await server.start()
        defer { Task { await server.shutdown(gracePeriod: .seconds(1)) } }
        let client = HTTPClient(group: testGroup)
        let (head, body) = try await client.fetch(HTTPClientRequest(url: "http://[::1]:\(addresses[0].port)/hello"))
        #expect(head.status.code == 200)
        #expect(body == "hello".bytes)
    }

    @Test func pipelinedRequestsAreAnsweredInOrder() async throws {
        try await withServer(makeTestRouter()) { server, _ in
            let connection = try RawConnection(serving: server)
            connection.send(
                "GET /slow?ms=100 HTTP/1.1\r\nHost: x\r\n\r\nPOST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcGET /path/3 HTTP/1.1\r\nHost: x\r\n\r\n"
            )
            let text = await connection.read(untilSuffix: "/path/3")
            let slow = text.range(of: "slow done")
            let echo = text.range(of: "\r\n\r\nabc")
            let third = text.range(of: "/path/3")
            #expect(slow != nil && echo != nil && third != nil)
            if let slow, let echo, let third {
                #expect(slow.lowerBound < echo.lowerBound && echo.lowerBound < third.lowerBound)
            }
            #expect(text.occurrences(of: "HTTP/1.1 200 OK") == 3)
        }
    }

    @Test func keepAliveAndConnectionClose() async throws {
        try await withServer(makeTestRouter()) { server, _ in
            let connection = try RawConnection(serving: server)
            for _ in 0..<3 {
                connection.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
                #expect(await connection.read(untilSuffix: "hello").hasPrefix("HTTP/1.1 200"))
            }
            #expect(server.connectionCount == 1)
            connection.send("GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            let (text, closed) = await connection.readToClose()
            #expect(closed)
            #expect(text.contains("Connection: close\r\n"))
        }
    }

    @Test func http10ClosesUnlessKeepAliveIsAsked() async throws {
        try await withServer(makeTestRouter()) { server, _ in
            let plain = try RawConnection(serving: server)
            plain.send("GET /hello HTTP/1.0\r\n\r\n")
            let (text, closed) = await plain.readToClose()
            #expect(closed && text.hasSuffix("hello"))
            let kept = try RawConnection(serving: server)
            kept.send("GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            #expect(await kept.read(untilSuffix: "hello").contains("Connection: keep-alive\r\n"))
            kept.send("GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            #expect(await kept.read(untilSuffix: "hello").hasPrefix("HTTP/1.1 200"))
        }
    }

    @Test func headGetsHeadersWithoutBody() async throws {
        try await withServer(makeTestRouter()) { server, _ in
            let connection = try RawConnection(serving: server)
            connection.send("HEAD /hello HTTP/1.1\r\nHost: x\r\n\r\nGET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
            let text = await connection.read(untilSuffix: "hello")
            // The HEAD answer declares 5 bytes but sends none: the next bytes are the GET's status line.
            #expect(text.hasPrefix("HTTP/1.1 200 OK\r\n"))
            #expect(text.contains("Content-Length: 5\r\n"))
            #expect(text.occurrences(of: "hello") == 1)
            #expect(text.occurrences(of: "HTTP/1.1 200 OK") == 2)
        }
    }

    @Test func chunkedRequestBodyAndChunkedStreamedResponse() async throws {
        try await withServer(makeTestRouter()) { server, _ in
            let connection = try RawConnection(serving: server)
            connection.send("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n")
            connection.send("4;x=y\r\ndefg\r\n0\r\n\r\n")
            #expect(await connection.read(untilSuffix: "abcdefg").contains("Content-Length: 7\r\n"))
            connection.send("GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
            let text = await connection.read(untilSuffix: "0\r\n\r\n")
            #expect(text.contains("Transfer-Encoding: chunked\r\n"))
            #expect(text.contains("b\r\n{\"line\":0}\n\r\n"))
            #expect(text.hasSuffix("b\r\n{\"line\":2}\n\r\n0\r\n\r\n"))
        }
    }

    @Test func aStreamedLineArrivesBeforeTheHandlerWritesTheNext() async throws {
        let gate = TestGate()
        var router = HTTPRouter()
        try router.add(.get, "/events") { _ in
            HTTPResponse(
                body: .stream { writer in
                    try await writer.write("first\n")
                    await gate.pass()  // parked until the client has seen "first"
                    try await writer.write("second\n")
                })
        }
        try await withServer(router) { _, port in
            let client = HTTPClient(group: testGroup)
            let response = try await client.execute(HTTPClientRequest(url: "http://127.0.0.1:\(port)/events"))
            var iterator = response.body.makeAsyncIterator()
            // If the server buffered until the handler returned, this would never arrive: the handler is parked.
            #expect(try await iterator.next() == "first\n".bytes)
            gate.open()
            #expect(try await iterator.next() == "second\n".bytes)
            #expect(try await iterator.next() == nil)
        }
    }

    @Test func expectContinueGetsInterimResponse() async throws {
        try await withServer(makeTestRouter()) { server, _ in
            let connection = try RawConnection(serving: server)
            connection.send("POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
            #expect(await connection.read(untilSuffix: "\r\n\r\n") == "HTTP/1.1 100 Continue\r\n\r\n")
            connection.send("body")
            #expect(await connection.read(untilSuffix: "body").hasPrefix("HTTP/1.1 200 OK"))
            // A route that refuses without reading gets its final answer, and no 100.
            connection.send("POST /small HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 100\r\n\r\n")
            let (text, closed) = await connection.readToClose()
            #expect(text.hasPrefix("HTTP/1.1 413"))
            #expect(closed)
        }
    }

    @Test(arguments: [
        ("GARBAGE\r\n\r\n", "400"),
        ("GET / HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n", "400"),
        ("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", "501"),
        ("GET / HTTP/3.0\r\nHost: x\r\n\r\n", "505"),
        ("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nxyz\r\n", "400"),
        ("GET /hello HTTP/1.1\r\nHost: x\r\nX: " + String(repeating: "a", count: 70_000) + "\r\n\r\n", "431"),
        ("POST /small HTTP/1.1\r\nHost: x\r\nContent-Length: 17\r\n\r\n", "413"),
        (
            "POST /small HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n20\r\n"
                + String(repeating: "b", count: 32) + "\r\n0\r\n\r\n", "413"
        ),
    ])
    func badRequestsGetAClearStatusAndClose(request: String, status: String) async throws {
        try await withServer(makeTestRouter()) { server, _ in
            let connection = try RawConnection(serving: server)
            connection.send(request)
            let (text, closed) = await connection.readToClose()
            #expect(text.hasPrefix("HTTP/1.1 \(status) "), "\(text.prefix(80))")
            #expect(text.contains("Content-Type: text/plain; charset=utf-8"))
            #expect(closed, "the connection must close after a framing error")
        }
    }

    @Test func handlerErrorsBecomeResponses() async throws {
        try await withServer(makeTestRouter()) { _, port in
            let client = HTTPClient(group: testGroup)
            let mapped = try await client.fetch(HTTPClientRequest(url: "http://127.0.0.1:\(port)/fail"))
            #expect(mapped.head.status.code == 400)
            let crashed = try await client.fetch(HTTPClientRequest(url: "http://127.0.0.1:\(port)/crash"))
            #expect(crashed.head.status.code == 500)
            let noContent = try await client.fetch(HTTPClientRequest(url: "http://127.0.0.1:\(port)/nocontent"))
            #expect(noContent.head.status.code == 204 && noContent.body.isEmpty)
            #expect(noContent.head.headers["Content-Length"] == nil)
        }
    }

    @Test func slowHeadersTimeOutWith408() async throws {
        let configuration = loopback { $0.headTimeout = .milliseconds(300) }
        try await withServer(makeTestRouter(), configuration) { server, _ in
            let connection = try RawConnection(serving: server)
            connection.send("GET /hello HTTP/1.1\r\nHost: x\r\n")
            let started = ContinuousClock.now
            let (text, closed) = await connection.readToClose()
            #expect(text.hasPrefix("HTTP/1.1 408 "))
            #expect(closed)
            // Bounded, not exact: CI runs this beside container builds on two cores, where timers run late. The
            // bound only tells a late timer from none at all (the connection's own 60 s receive timeout).
            #expect(ContinuousClock.now - started < .seconds(50))
        }
    }

    /// A body that stops arriving while the handler waits for it: 408 and close, not a connection held forever.
    @Test func aStalledRequestBodyTimesOutWith408() async throws {
        let configuration = loopback { $0.bodyTimeout = .milliseconds(300) }
        try await withServer(makeTestRouter(), configuration) { server, _ in
            let connection = try RawConnection(serving: server)
            connection.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789")
            let started = ContinuousClock.now
            let (text, closed) = await connection.readToClose()
            #expect(text.hasPrefix("HTTP/1.1 408 ") && text.contains("stopped arriving"))
            #expect(closed)
            // Bounded, not exact: the alternative is a connection held forever, and timers run late beside builds.
            #expect(ContinuousClock.now - started < .seconds(60))
        }
    }

    /// A client that stops reading a large answer is dropped after the write timeout; a handler that merely
    /// takes long (no output queued) is not.
    @Test func aClientThatStopsReadingIsDropped() async throws {
        let total = 32 * 1024 * 1024
        var router = HTTPRouter()
        let bigStarted = Mutex(false)
        try router.add(.get, "/big") { _ in
            bigStarted.withLock { $0 = true }
            return HTTPResponse(body: .bytes([UInt8](repeating: 1, count: total)))
        }
        try router.add(.get, "/slow") { _ in
            try await Task.sleep(for: .milliseconds(1500))
            return HTTPResponse(body: .string("late"))
        }
        let configuration = loopback { $0.writeTimeout = .milliseconds(300) }
        try await withServer(router, configuration) { server, port in
            do {
                let slow = try RawConnection(port: port)
                slow.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
                #expect(await slow.read(untilSuffix: "late").hasPrefix("HTTP/1.1 200 "))
            }
            // The slow connection is closed (its deinit); then the stalled one is the only one the server holds,
            // until it drops it: the test waits for that, not for a guessed time.
            let slowClosed = await waitUntil { server.connectionCount == 0 }
            #expect(slowClosed)
            let stalled = try RawConnection(port: port)
            stalled.send("GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
            // Accepted once its handler has run (a count of 0 before the accept would prove nothing); dropped once
            // the count is back at 0.
            let stalledDropped = await waitUntil { bigStarted.withLock { $0 } && server.connectionCount == 0 }
            #expect(stalledDropped)
            let (text, closed) = await stalled.readToClose()
            #expect(closed)
            #expect(text.utf8.count < total, "the whole answer arrived: the stalled connection was kept")
        }
    }

    @Test func idleKeepAliveConnectionsAreClosed() async throws {
        let configuration = loopback { $0.idleTimeout = .milliseconds(300) }
        try await withServer(makeTestRouter(), configuration) { server, _ in
            let connection = try RawConnection(serving: server)
            connection.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
            _ = await connection.read(untilSuffix: "hello")
            let (rest, closed) = await connection.readToClose()
            #expect(rest.isEmpty && closed)
            #expect(server.connectionCount == 0)
        }
    }

    @Test func connectionsBeyondTheCapAreRefusedWith503() async throws {
        let configuration = loopback { $0.maxConnections = 2 }
        try await withServer(makeTestRouter(), configuration) { _, port in
            let first = try RawConnection(port: port)
            let second = try RawConnection(port: port)
            first.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
            second.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
            _ = await first.read(untilSuffix: "hello")
            _ = await second.read(untilSuffix: "hello")
            let third = try RawConnection(port: port)
            let (text, closed) = await third.readToClose()
            #expect(text.hasPrefix("HTTP/1.1 503 "))
            #expect(closed)
            first.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(await first.read(untilSuffix: "hello").hasPrefix("HTTP/1.1 200"))
        }
    }

    @Test func halfClosedClientStillGetsItsResponse() async throws {
        try await withServer(makeTestRouter()) { server, _ in
            let connection = try RawConnection(serving: server)
            connection.send("GET /slow?ms=50 HTTP/1.1\r\nHost: x\r\n\r\n")
            connection.shutdownWrite()
            let (text, closed) = await connection.readToClose()
            #expect(text.hasSuffix("slow done"))
            #expect(closed)
        }
    }

    @Test func bodyIsDeliveredBeforeItHasAllArrived() async throws {
        let firstChunk = Mutex<Int>(0)
        var router = HTTPRouter()
        try router.add(.post, "/first", maxBodyBytes: 1 << 40) { request in
            var iterator = request.body.makeAsyncIterator()
            let chunk = try await iterator.next() ?? []
            firstChunk.withLock { $0 = chunk.count }
            return HTTPResponse(body: .string("got \(chunk.count)"))
        }
        try await withServer(router) { server, _ in
            let connection = try RawConnection(serving: server)
            // Declares a terabyte, sends 1 KiB: the handler answers from what has arrived.
            connection.send("POST /first HTTP/1.1\r\nHost: x\r\nContent-Length: 1099511627776\r\n\r\n")
            connection.send([UInt8](repeating: 7, count: 1024))
            let (text, closed) = await connection.readToClose()
            #expect(text.hasPrefix("HTTP/1.1 200") && text.hasSuffix("got 1024"))
            #expect(closed, "an unread terabyte is cut off, not drained")
        }
        #expect(firstChunk.withLock { $0 } == 1024)
    }

    @Test func largeUploadStreamsInBoundedMemory() async throws {
        try await withServer(makeTestRouter()) { _, port in
            let client = HTTPClient(group: testGroup)
            let total = 1 << 30  // the issue's "1 GB upload"; holding it would dwarf other tests' noise
            let before = residentBytes()
            let upload = GeneratedUpload(total: total)
            let body = upload.body()
            let (head, reply) = try await client.fetch(
                HTTPClientRequest(method: .post, url: "http://127.0.0.1:\(port)/count", body: body))
            let grown = residentBytes() - before
            #expect(head.status.code == 200)
            #expect(String(decoding: reply, as: UTF8.self) == "\(total) true")
            // Client and server live in this process: neither may have held the body.
            #expect(grown < 160 * 1024 * 1024, "resident memory grew by \(grown) bytes for a \(total)-byte upload")
        }
    }

    @Test func gracefulShutdownFinishesInFlightRequests() async throws {
        let gate = TestGate()
        var router = try makeTestRouter()
        try router.add(.get, "/gate") { _ in
            await gate.pass()
            return HTTPResponse(body: .string("finished"))
        }
        let server = HTTPServer(configuration: loopback(), group: testGroup, responder: router)
        let port = try await server.start()[0].port
        let idle = try RawConnection(port: port)
        idle.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
        _ = await idle.read(untilSuffix: "hello")
        let busy = try RawConnection(port: port)
        busy.send("GET /gate HTTP/1.1\r\nHost: x\r\n\r\n")
        try await gate.waitForArrivals(1)
        let shutdown = Task { await server.shutdown(gracePeriod: .seconds(10)) }
        // The idle connection closing shows that shutdown has begun; only then may the busy handler finish.
        let (idleRest, idleClosed) = await idle.readToClose()
        #expect(idleRest.isEmpty && idleClosed, "idle connections close at once")
        gate.open()
        let (text, closed) = await busy.readToClose()
        #expect(text.hasSuffix("finished"), "the request in flight completes")
        #expect(text.contains("Connection: close"))
        #expect(closed)
        await shutdown.value
        #expect(throws: SystemError.self) { _ = try RawConnection(port: port) }
    }

    @Test func runStopsGracefullyWhenCancelled() async throws {
        let server = HTTPServer(
            configuration: HTTPServerConfiguration(host: "127.0.0.1", port: 0), group: testGroup,
            responder: try makeTestRouter(), gracePeriod: .seconds(2))
        let task = Task { try await server.run() }
        var port = 0
        for _ in 0..<100 where port == 0 {
            try await Task.sleep(for: .milliseconds(10))
            port = server.localAddresses.first?.port ?? 0
        }
        let client = HTTPClient(group: testGroup)
        #expect(
            try await client.fetch(HTTPClientRequest(url: "http://127.0.0.1:\(port)/hello")).head.status.code == 200)
        task.cancel()
        try await task.value
        #expect(server.localAddresses.isEmpty)
    }
}
