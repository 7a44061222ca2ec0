import Foundation
import SkiffAPI
import SkiffHTTP
import SkiffNATSClient
import SkiffPOSIX
import SkiffTestSupport
import Synchronization
import Testing

@testable import SkiffQueue

/// `/async-function/…` on the in-memory runtime: what is refused before anything is queued, the 202 once the call
/// is on disk, and the worker making the call with retries, dead letters and callbacks.
@Suite("Asynchronous invocation (in-memory runtime)")
struct AsyncInvocationTests {
    private static let fast = RetryPolicy(minimum: .milliseconds(40), maximum: .milliseconds(200), maxAttempts: 5)

    /// An in-memory gateway with the queue, `echo` deployed, and a callback receiver; torn down afterwards.
    private func withQueue(
        failingCallbacks: Int = 0, holdingCallbacks hold: ReleaseGate? = nil,
        _ body: (InMemoryGateway, AsyncQueue, CallbackReceiver) async throws -> Void
    ) async throws {
        try await withInMemoryGateway(queueRetry: Self.fast) { gw in
            let queue = try #require(gw.queue)
            let receiver = try await CallbackReceiver(failFirst: failingCallbacks, hold: hold)
            defer { Task { await receiver.server.shutdown(gracePeriod: .seconds(1)) } }
            #expect(try await gw.deploy("echo") == 200)
            try await body(gw, queue, receiver)
        }
    }

    /// Queues a call whose answer goes to `receiver`.
    private func enqueue(
        _ gw: InMemoryGateway, _ target: String, method: HTTPMethod = .post, body: String = "",
        callback receiver: CallbackReceiver, callID: String? = nil
    ) async throws -> (head: HTTPResponseHead, body: [UInt8]) {
        var headers = HTTPHeaders()
        headers.add(name: "X-Callback-Url", value: receiver.url)
        if let callID { headers.add(name: "X-Call-Id", value: callID) }
        return try await testClient.fetch(
            HTTPClientRequest(
                method: method, host: "127.0.0.1", port: gw.port, target: target, headers: headers,
                body: .string(body)))
    }

    @Test func refusedCallsQueueNothing() async throws {
        try await withInMemoryGateway(queueRetry: Self.fast) { gw in
            let queue = try #require(gw.queue)
            #expect(try await gw.deploy("echo") == 200)
            let unknown = try await gw.call(.post, "/async-function/nobody", json: "{}", auth: false)
            #expect(unknown.status == 404 && unknown.text.contains("nobody"))
            let large = try await gw.call(
                .post, "/async-function/echo", json: String(repeating: "x", count: 1001), auth: false)
            #expect(large.status == 413, "\(large.text)")
            var headers = HTTPHeaders()
            headers.add(name: "X-Callback-Url", value: "ftp://example/x")
            let badCallback = try await testClient.fetch(
                HTTPClientRequest(
                    method: .post, host: "127.0.0.1", port: gw.port, target: "/async-function/echo",
                    headers: headers, body: .string("{}")))
            #expect(badCallback.head.status.code == 400)
            #expect(queue.requests.log.summary.messages == 0)
        }
    }

    @Test func aCallIsQueuedDurablyThenMadeAndItsAnswerCalledBack() async throws {
        try await withQueue { gw, queue, receiver in
            let (head, body) = try await enqueue(
                gw, "/async-function/echo/a/b?x=1", method: .put, body: "12345", callback: receiver, callID: "call-1")
            #expect(head.status.code == 202 && body.isEmpty)
            #expect(head.headers["X-Call-Id"] == "call-1")
            #expect(head.headers["X-Start-Time"] != nil && head.headers["X-Served-By"] == "skiff/test")

            let callback = try #require(await receiver.callbacks(1).first)
            #expect(callback.body == "echo PUT /a/b?x=1 5")
            #expect(callback.headers["X-Call-Id"] == "call-1")
            #expect(callback.headers["X-Function-Status"] == "200")
            #expect(callback.headers["X-Function-Name"] == "echo.openfaas-fn")
            #expect(callback.headers["X-Duration-Seconds"] != nil)
            // Acknowledged: a work queue keeps nothing once the call is made.
            _ = await eventually(timeout: .seconds(60)) { queue.requests.log.summary.messages == 0 }
            #expect(queue.requests.log.summary.messages == 0)
        }
    }

    /// Busy three times, then an answer: four attempts, each after a wait, and one callback with the answer.
    @Test func aBusyFunctionIsTriedAgainWithBackOff() async throws {
        try await withQueue(failingCallbacks: 2) { gw, _, receiver in
            let (head, _) = try await enqueue(gw, "/async-function/echo/flaky?fail=3", callback: receiver)
            #expect(head.status.code == 202)
            let callback = try #require(await receiver.callbacks(1).first)
            #expect(callback.headers["X-Function-Status"] == "200")
            // The receiver refused the first two callbacks: they were tried again too.
            #expect(receiver.record.refused.load(ordering: .relaxed) == 2)
            let times = gw.flakyCalls.times.withLock { $0 }
            #expect(times.count == 4)
            // Each wait is at least half its ceiling (40, 80, 160 ms): a lower bound, which a slow machine only
            // makes longer.
            for (index, pair) in zip(times, times.dropFirst()).enumerated() {
                let floor = Self.fast.ceiling(afterAttempt: index + 1) / 2
                #expect(pair.1 - pair.0 >= floor, "wait \(index + 1): \(pair.1 - pair.0)")
            }
        }
    }

    /// The function's slot is its own again once it has answered: a callback receiver that takes its time does
    /// not hold back the function's next queued call (here the function takes one call at a time).
    @Test func aSlowCallbackReceiverDoesNotHoldTheFunctionBack() async throws {
        let hold = ReleaseGate()
        defer { hold.open() }
        try await withQueue(holdingCallbacks: hold) { gw, _, receiver in
            #expect(try await gw.deploy("one", labels: #"{"\#(QueueWorker.maxInFlightLabel)":"1"}"#) == 200)
            for body in ["first", "second"] {
                let (head, _) = try await enqueue(gw, "/async-function/one/flaky", body: body, callback: receiver)
                #expect(head.status.code == 202)
            }
            // Both calls are made while the first callback is still held by the receiver.
            _ = await eventually(timeout: .seconds(60)) { gw.flakyCalls.times.withLock { $0.count } == 2 }
            #expect(gw.flakyCalls.times.withLock { $0.count } == 2)
            #expect(receiver.record.received.withLock { $0.isEmpty })
            hold.open()
            let callbacks = await receiver.callbacks(2)
            #expect(callbacks.map(\.body).sorted() == ["one POST /flaky 5", "one POST /flaky 6"])
        }
    }

    /// Busy every time: after the last attempt the call is kept as a dead letter, and the callback says so.
    @Test func aCallThatUsesItsAttemptsIsKeptAsADeadLetter() async throws {
        try await withQueue { gw, queue, receiver in
            let (head, _) = try await enqueue(
                gw, "/async-function/echo/flaky?fail=100", body: "job", callback: receiver)
            #expect(head.status.code == 202)
            let callback = try #require(await receiver.callbacks(1).first)
            #expect(callback.headers["X-Function-Status"] == "503")
            #expect(gw.flakyCalls.times.withLock { $0.count } == Self.fast.maxAttempts)
            #expect(queue.dead.log.summary.messages == 1)
            let first = try #require(queue.dead.log.firstSequence)
            let dead = try #require(try queue.dead.log.message(first))
            let request = try JSONDecoder().decode(QueueRequest.self, from: Data(dead.payload))
            #expect(
                request.function == "echo.openfaas-fn" && request.path == "/flaky" && request.body == Data("job".utf8))
            #expect(String(decoding: dead.headers, as: UTF8.self).contains("Skiff-Attempts: 5"))
            _ = await eventually(timeout: .seconds(60)) { queue.requests.log.summary.messages == 0 }
            #expect(queue.requests.log.summary.messages == 0)

            // The admin's view: the function's retries and its dead letter, then /metrics says the same.
            let shown = try await gw.call(.get, "/system/queue")
            let summary = try JSONDecoder().decode(QueueSummary.self, from: Data(shown.text.utf8))
            #expect(
                summary.functions == [
                    .init(name: "echo", namespace: "openfaas-fn", queued: 0, inFlight: 0, retries: 4, deadLetters: 1)
                ], "\(shown.text)")
            let letter = try #require(summary.dead.first)
            #expect(summary.dead.count == 1 && letter.attempts == 5 && letter.function == "echo.openfaas-fn")
            #expect(try await gw.call(.get, "/system/queue", auth: false).status == 401)
            let metrics = try await gw.call(.get, "/metrics", auth: false).text
            #expect(metrics.contains(#"skiff_queue_dead_letters_total{function_name="echo.openfaas-fn"} 1"#))
            #expect(metrics.contains(#"skiff_queue_retries_total{function_name="echo.openfaas-fn"} 4"#))
            #expect(metrics.contains(#"skiff_queue_calls_total{code="503",function_name="echo.openfaas-fn"} 1"#))

            // Queued again by its call id: tried five more times (the function is still busy), dead again.
            let retried = try await gw.call(.post, "/system/queue/retry", json: #"{"callId":"\#(letter.callId)"}"#)
            #expect(retried.status == 200 && retried.text == #"{"calls":1}"#, "\(retried.text)")
            _ = await eventually(timeout: .seconds(60)) {
                gw.flakyCalls.times.withLock { $0.count } == 2 * Self.fast.maxAttempts
            }
            #expect(gw.flakyCalls.times.withLock { $0.count } == 2 * Self.fast.maxAttempts)
            let unknown = try await gw.call(.post, "/system/queue/retry", json: #"{"callId":"no-such-call"}"#)
            #expect(unknown.status == 404)
        }
    }

    /// With no worker taking calls: a purge removes the named function's calls and leaves the others.
    @Test func aPurgeRemovesOneFunctionsWaitingCalls() async throws {
        try await withInMemoryGateway(queueRetry: Self.fast, startWorker: false) { gw in
            let queue = try #require(gw.queue)
            #expect(try await gw.deploy("echo") == 200)
            #expect(try await gw.deploy("other") == 200)
            for target in ["/async-function/echo", "/async-function/echo/a", "/async-function/other"] {
                #expect(try await gw.call(.post, target, json: "{}", auth: false).status == 202)
            }
            let purged = try await gw.call(.post, "/system/queue/purge", json: #"{"functionName":"echo"}"#)
            #expect(purged.status == 200 && purged.text == #"{"calls":2}"#, "\(purged.text)")
            let summary = queue.summary()
            #expect(summary.functions.map { "\($0.name) \($0.queued)" } == ["other 1"])
            let bad = try await gw.call(.post, "/system/queue/purge", json: #"{"functionName":"../x"}"#)
            #expect(bad.status == 400)
        }
    }
}

extension AsyncInvocationTests {
    /// With the worker running: one call is being made (held inside the function), five wait in the worker for
    /// the function's only slot. A purge takes back the five, never the one being made, which then finishes.
    @Test func aPurgeTakesBackCallsTheWorkerHoldsButNotTheOneBeingMade() async throws {
        try await withQueue { gw, queue, receiver in
            #expect(try await gw.deploy("one", labels: #"{"\#(QueueWorker.maxInFlightLabel)":"1"}"#) == 200)
            for index in 0..<6 {
                let (head, _) = try await enqueue(
                    gw, "/async-function/one/hold", body: "\(index)", callback: receiver)
                #expect(head.status.code == 202)
            }
            let holding = await eventually(timeout: .seconds(60)) {
                queue.summary().functions.first { $0.name == "one" }?.inFlight == 1 && queue.consumer.numAckPending == 6
            }
            #expect(holding)
            let purged = try await gw.call(.post, "/system/queue/purge", json: #"{"functionName":"one"}"#)
            #expect(purged.status == 200 && purged.text == #"{"calls":5}"#, "\(purged.text)")
            gw.release.open()
            let callbacks = await receiver.callbacks(1)
            #expect(callbacks.map(\.body) == ["one POST /hold 1"])
            _ = await eventually(timeout: .seconds(60)) { queue.requests.log.summary.messages == 0 }
            #expect(queue.requests.log.summary.messages == 0 && queue.consumer.numAckPending == 0)
            #expect(receiver.record.received.withLock { $0.count } == 1)
        }
    }
}

extension AsyncInvocationTests {
    /// A call queued straight onto the stream (any NATS client may write one) with a header name, a header value
    /// and a call id that HTTP cannot carry, and one with a CR LF in its path: the function gets none of them. The
    /// headers are dropped, the call id is replaced, and the path is refused with 400. Both are called back.
    @Test func aQueuedCallCannotWriteIntoTheFunctionsRequest() async throws {
        try await withQueue { gw, queue, receiver in
            let callback = try #require(GoURL(receiver.url))
            let dirty = QueueRequest(
                function: "echo",
                header: [
                    "X-Test-Good": ["1"], "X-Test-Bad\r\nX-Test-Injected": ["2"],
                    "X-Test-Value": ["a\r\nX-Test-Injected: 3"], "X-Call-Id": ["id\r\nX-Test-Injected: 4"],
                ],
                path: "/ok", callbackURL: callback)
            _ = try await queue.enqueue(dirty, callID: "")
            var smuggling = QueueRequest(function: "echo", path: "/a HTTP/1.1\r\nX-Test-Injected: 5\r\n\r\nGET /b")
            smuggling.callbackURL = callback
            _ = try await queue.enqueue(smuggling, callID: "second")
            let callbacks = await receiver.callbacks(2)
            let answers = callbacks.map { "\($0.headers["X-Function-Status"] ?? "?") \($0.body)" }.sorted()
            #expect(answers.count == 2 && answers[0] == "200 echo POST /ok 0 X-Test-Good=1", "\(answers)")
            #expect(answers.count == 2 && answers[1].hasPrefix("400 "), "\(answers)")
            #expect(callbacks.allSatisfy { !($0.headers["X-Call-Id"] ?? "").contains("X-Test") })
        }
    }
}

/// The queued message in OpenFaaS's own shape, and the back-off.
@Suite("Queue request and retry policy")
struct QueueRequestTests {
    /// What OpenFaaS's gateway publishes to `faas-request` (Go's encoding: base64 body, url.URL object).
    @Test func openFaaSsPublisherFormatIsReadAsItIs() throws {
        let published = #"""
            {"Header":{"X-Call-Id":["abc"],"X-Callback-Url":["http://receiver:9000/done?x=1"]},"Host":"gw:8080",
            "Body":"aGVsbG8=","Method":"POST","Path":"/sub","QueryString":"a=b","Function":"figlet.openfaas-fn",
            "QueueName":"","CallbackUrl":{"Scheme":"http","Opaque":"","User":null,"Host":"receiver:9000",
            "Path":"/done","RawPath":"","OmitHost":false,"ForceQuery":false,"RawQuery":"x=1","Fragment":"",
            "RawFragment":""}}
            """#
        let request = try JSONDecoder().decode(QueueRequest.self, from: Data(published.utf8))
        #expect(request.function == "figlet.openfaas-fn" && request.method == "POST" && request.path == "/sub")
        #expect(request.body == Data("hello".utf8) && request.queryString == "a=b")
        #expect(request.headerValue("x-call-id") == "abc")
        #expect(request.callbackURL?.text == "http://receiver:9000/done?x=1")
        // Written back in the same shape: every key Go writes, the callback as an object with a null User.
        let written = try JSONSerialization.jsonObject(with: JSONEncoder().encode(request)) as? [String: Any]
        let keys = Set((written ?? [:]).keys)
        #expect(keys.isSuperset(of: ["Header", "Body", "Method", "Function", "CallbackUrl"]))
        let callback = written?["CallbackUrl"] as? [String: Any]
        #expect(callback?["Host"] as? String == "receiver:9000" && callback?["User"] is NSNull)
        #expect(try JSONDecoder().decode(QueueRequest.self, from: JSONEncoder().encode(request)) == request)
    }

    /// The hand-written JSON is the encoder's: the same object (keys, values, nulls), decoded back to the same
    /// request, for bodies or none, annotations or none, a callback or none, and text that needs escaping.
    @Test func theHandWrittenJSONIsWhatTheEncoderWrites() throws {
        var full = QueueRequest(
            function: "fn.ns", method: "PUT",
            header: ["X-Call-Id": ["a\"b\\c"], "X-Multi": ["1", "two", "\u{1}ctl\t"], "Ünï": ["流 ✓"]],
            body: Data((0..<300).map { UInt8(truncatingIfNeeded: $0 &* 7) }), path: "/a b/ü", queryString: "x=1&y=\"",
            host: "gw:8080", callbackURL: GoURL("http://10.0.0.9:9000/done?id=1#frag"))
        full.queueName = "q\n1"
        full.annotations = ["topic": "a,b", "k": "v\"w"]
        var bare = QueueRequest(function: "echo")
        bare.method = ""
        for request in [full, bare, QueueRequest(function: "x", header: [:], body: Data())] {
            let handWritten = Data(request.json())
            let encoded = try JSONEncoder().encode(request)
            let mine = try JSONSerialization.jsonObject(with: handWritten) as? NSDictionary
            let theirs = try JSONSerialization.jsonObject(with: encoded) as? NSDictionary
            #expect(mine != nil && mine == theirs, "\(String(decoding: handWritten, as: UTF8.self))")
            let decoded = try JSONDecoder().decode(QueueRequest.self, from: handWritten)
            #expect(try decoded == JSONDecoder().decode(QueueRequest.self, from: encoded))
        }
    }

    /// The worker reads calls by hand; what it reads is what `JSONDecoder` reads, for the documents its hand reading
    /// takes (which must be all the usual ones) and for those it leaves to `JSONDecoder` (which must refuse the
    /// broken ones the same way).
    @Test func handReadingAgreesWithJSONDecoder() throws {
        let full = #"""
             {"Header":{"X-Call-Id":["abc"],"X-Many":["1","\u00e9\ud83d\ude00\n"]},"Host":"gw:8080","Body":"aGVsbG8=",
             "Method":"PUT","Path":"/sub","QueryString":"a=b","Function":"figlet.openfaas-fn","QueueName":"q",
             "Annotations":{"topic":"t"},"Extra":[1,-2.5e3,{"x":[true,false,null]},"s"],
             "CallbackUrl":{"Scheme":"http","Opaque":"","User":{"u":"p"},"Host":"receiver:9000","Path":"/done",
             "RawPath":"","OmitHost":false,"ForceQuery":true,"RawQuery":"x=1","Fragment":"f","RawFragment":"","Port":7}}
            """#
        let taken = [
            full, #"{"Function":"f"}"#, #"{"Function":"f","Header":null,"Body":null,"Method":null,"CallbackUrl":null}"#,
            #"{"Function":"f","Method":"","Host":"","Annotations":null,"Body":""}"#, " {\n\t\"Function\" : \"f\" }\r\n",
            String(
                decoding: QueueRequest(function: "a.b", header: ["K": ["v"]], body: Data([0, 255])).json(),
                as: UTF8.self),
        ]
        for document in taken {
            let expected = try JSONDecoder().decode(QueueRequest.self, from: Data(document.utf8))
            #expect(try QueueRequest.scan(Array(document.utf8)) == expected, "\(document)")
            #expect(try QueueRequest(json: Array(document.utf8)) == expected, "\(document)")
        }
        let refused = [
            "", "{", "[]", "null", #"{"Function":1}"#, #"{"Function":null}"#, #"{"Header":{}}"#,
            #"{"Function":"f"} x"#, #"{"Function":"f",}"#, "{\"Function\":\"f\u{1}\"}",
            #"{"Function":"f","Body":"not base64!"}"#, #"{"Function":"f","Header":{"A":[null]}}"#,
            #"{"Function":"f","Header":{"A":"v"}}"#, #"{"Function":"f","Method":7}"#, #"{"Function":"\ud83d"}"#,
            #"{"Function":"f","Extra":01}"#, #"{"Function":"f","Extra":1.}"#, #"{"Function":"f","Extra":tru}"#,
            #"{"Function":"f","CallbackUrl":{"OmitHost":"no"}}"#, #"{"Function":"\x"}"#,
            #"{"Function":"a","Function":"b"}"#,
        ]
        for document in refused {
            // Refused, or read alike: a few of these are matters of taste that only JSONDecoder decides.
            let theirs = try? JSONDecoder().decode(QueueRequest.self, from: Data(document.utf8))
            #expect((try? QueueRequest(json: Array(document.utf8))) == theirs, "\(document)")
            #expect(throws: (any Error).self, "\(document)") { try QueueRequest.scan(Array(document.utf8)) }
        }
        // Nesting deeper than any decoder takes: refused by both, without exhausting the stack.
        let nested = #"{"Function":"f","Extra":"# + String(repeating: "[", count: 100_000) + "}"
        #expect(throws: (any Error).self) { try QueueRequest(json: Array(nested.utf8)) }
        // Bytes that are not UTF-8 inside a string.
        let invalid = Array(#"{"Function":""#.utf8) + [0xFF, 0xFE] + Array(#""}"#.utf8)
        #expect(throws: (any Error).self) { try QueueRequest(json: invalid) }
    }

    @Test func callbackURLsAreHTTPWithAHost() {
        #expect(GoURL("http://10.0.0.5:8000/cb?id=1#f")?.text == "http://10.0.0.5:8000/cb?id=1#f")
        for bad in ["https://x/y", "ftp://x", "http://", "http://user@host/", "http://a b/", "/relative"] {
            #expect(GoURL(bad) == nil, "\(bad)")
        }
    }

    @Test func theBackOffDoublesUpToItsCapWithJitterInTheUpperHalf() {
        let policy = RetryPolicy(minimum: .seconds(1), maximum: .seconds(120), maxAttempts: 10)
        #expect(
            (1...9).map { policy.ceiling(afterAttempt: $0) } == [1, 2, 4, 8, 16, 32, 64, 120, 120].map { .seconds($0) })
        #expect(policy.wait(afterAttempt: 3, random: 0) == .seconds(2))
        #expect(policy.wait(afterAttempt: 3, random: 1) == .seconds(4))
        #expect(RetryPolicy.isRetried(status: 503, internalFailure: false))
        #expect(RetryPolicy.isRetried(status: 500, internalFailure: true))
        #expect(!RetryPolicy.isRetried(status: 500, internalFailure: false))
        #expect(!RetryPolicy.isRetried(status: 404, internalFailure: false))
    }
}

extension AsyncInvocationTests {
    /// The callback receiver answers 503 to the first try, and the daemon stops before the next (its back-off is
    /// ten minutes): the call was acknowledged, but its callback was stored first. The next daemon on the same
    /// queue delivers it, once; the call itself is not made again.
    @Test func aCallbackOutlivesARestartWhileItsReceiverIsDown() async throws {
        let streams = FileManager.default.temporaryDirectory.appendingPathComponent("callbacks-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: streams) }
        let receiver = try await CallbackReceiver(failFirst: 1)
        defer { Task { await receiver.server.shutdown(gracePeriod: .seconds(1)) } }
        let patient = RetryPolicy(minimum: .seconds(600), maximum: .seconds(600), maxAttempts: 5)
        try await withInMemoryGateway(queueRetry: patient, queueDirectory: streams) { gw in
            let queue = try #require(gw.queue)
            #expect(try await gw.deploy("echo") == 200)
            let (head, _) = try await enqueue(gw, "/async-function/echo/once", body: "hi", callback: receiver)
            #expect(head.status.code == 202)
            let refused = await eventually(timeout: .seconds(60)) {
                receiver.record.refused.load(ordering: .relaxed) == 1 && queue.requests.log.summary.messages == 0
                    && queue.callbacks.log.summary.messages == 1
            }
            #expect(refused)
            // Waiting, and shown as waiting: in `skiff queue`'s summary and on /metrics.
            let shown = try await gw.call(.get, "/system/queue")
            #expect(try JSONDecoder().decode(QueueSummary.self, from: Data(shown.text.utf8)).callbacks == 1)
            let metrics = try await gw.call(.get, "/metrics")
            #expect(metrics.text.contains("skiff_queue_callbacks_waiting 1\n"), "\(metrics.text)")
        }
        #expect(receiver.record.received.withLock { $0.isEmpty })
        try await withInMemoryGateway(queueRetry: Self.fast, queueDirectory: streams, queueAckWait: .seconds(2)) { gw in
            let queue = try #require(gw.queue)
            #expect(try await gw.deploy("echo") == 200)
            let callbacks = await receiver.callbacks(1)
            #expect(callbacks.map(\.body) == ["echo POST /once 2"])
            #expect(callbacks.first?.headers["X-Function-Status"] == "200")
            let settled = await eventually(timeout: .seconds(60)) { queue.callbacks.log.summary.messages == 0 }
            #expect(settled)
            #expect(queue.summary().callbacks == 0)
            #expect(receiver.record.received.withLock { $0.count } == 1)
        }
    }
}

extension AsyncInvocationTests {
    /// A callback stored straight onto its stream (a NATS client may publish there) with a header name HTTP cannot
    /// carry: the receiver gets the callback without it, and with the others.
    @Test func aStoredCallbackCannotWriteIntoItsRequest() async throws {
        try await withQueue { _, queue, receiver in
            let headers = HeaderBlock.encode([
                NATSHeader("Skiff-Callback-Url", receiver.url), NATSHeader("X-Test-Good", "1"),
                NATSHeader("X-Test Bad", "2"), NATSHeader("X-Call-Id", "stored"),
            ])
            _ = try await queue.callbacks.publish(
                subject: "skiff.callbacks", headers: headers, payload: Array("answer".utf8), now: 0)
            let callback = try #require(await receiver.callbacks(1).first)
            #expect(callback.body == "answer" && callback.headers["X-Test-Good"] == "1")
            #expect(callback.headers["X-Call-Id"] == "stored")
            #expect(!callback.headers.contains { $0.name.hasPrefix("X-Test ") || $0.name.contains(" ") })
        }
    }
}

extension AsyncInvocationTests {
    /// 1,100 calls to `slow` (one at a time; the first held inside the function) fill what the worker takes in, so
    /// a call for `late` queued after them waits. A purge of `slow` takes back the calls the worker holds, and
    /// `late` is made at once, while `slow`'s first call is still being made. (The purged calls used to stay in
    /// the worker until `slow` had room, holding every other function back meanwhile.)
    @Test func aPurgeMakesRoomForOtherFunctionsAtOnce() async throws {
        try await withQueue { gw, queue, receiver in
            // The held call never times out: only the purge can let `late` through.
            let deployed = try await gw.deploy(
                "slow", labels: #"{"\#(QueueWorker.maxInFlightLabel)":"1"}"#, env: #"{"exec_timeout":"1h"}"#)
            #expect(deployed == 200)
            #expect(try await gw.deploy("late") == 200)
            for index in 0..<(1 + QueueWorker.maxHeld + 75) {
                _ = try await queue.enqueue(QueueRequest(function: "slow", path: "/hold"), callID: "slow-\(index)")
            }
            let (head, _) = try await enqueue(gw, "/async-function/late", callback: receiver)
            #expect(head.status.code == 202)
            let full = await eventually(timeout: .seconds(60)) {
                queue.summary().functions.first { $0.name == "slow" }?.inFlight == 1
                    && queue.consumer.numAckPending == 1 + QueueWorker.maxHeld
            }
            #expect(full)
            let purged = try await gw.call(.post, "/system/queue/purge", json: #"{"functionName":"slow"}"#)
            #expect(purged.status == 200 && purged.text == #"{"calls":\#(QueueWorker.maxHeld + 75)}"#, "\(purged.text)")
            let callbacks = await receiver.callbacks(1)
            #expect(callbacks.map(\.body) == ["late POST / 0"])
            #expect(queue.summary().functions.first { $0.name == "slow" }?.inFlight == 1)
            gw.release.open()
            let drained = await eventually(timeout: .seconds(60)) { queue.requests.log.summary.messages == 0 }
            #expect(drained)
        }
    }
}
