import Foundation
import SkiffGateway
import SkiffHTTP
import SkiffInvoke
import SkiffLog
import SkiffMetrics
import SkiffMetricsStore
import SkiffPOSIX
import SkiffQueue
import SkiffRuntime
import SkiffTestSupport
import Synchronization
import Testing

/// The gateway's routes and its proxy in front of an in-memory runtime: no containerd, no root, milliseconds.
/// Replicas are loopback servers that echo what they receive, or hold a call until the test releases it.
final class InMemoryGateway: Sendable {
    let runtime: InMemoryFunctionRuntime
    let gateway: Gateway
    let server: HTTPServer
    let port: Int
    let credentials: Credentials
    let state: String
    /// Opened by the test to let held calls (`/hold`) answer.
    let release = ReleaseGate()
    /// When each call to `/flaky` arrived (`/flaky?fail=N` answers 503 to the first N of them).
    let flakyCalls = CallTimes()
    /// When calls made by a trigger (their `X-Connector` header) arrived.
    let connectorCalls = CallTimes()
    /// The queue of asynchronous calls and its worker, when the test asked for them.
    let queue: AsyncQueue?
    /// Every collector of the gateway (and the queue), as the daemon's registry holds them.
    let registry = MetricsRegistry()
    /// The metrics store behind `/api/v1`, when the test asked for one.
    let metricsStore: TimeSeriesStore?
    private let worker: Task<Void, Never>?

    /// `queueDirectory`: where the queue keeps its streams (a small filesystem of the test's own, say); in the
    /// state directory by default.
    init(
        coldStartTimeout: Duration = .seconds(30), queueRetry: RetryPolicy? = nil, startWorker: Bool = true,
        queueDirectory: String? = nil, queueAckWait: Duration = .seconds(30), metricsStore: Bool = false,
        metricsQueryAuth: Bool = true
    ) async throws {
        state = FileManager.default.temporaryDirectory.appendingPathComponent("skiff-mem-\(UUID())").path
        let release = self.release
        let flakyCalls = self.flakyCalls
        let connectorCalls = self.connectorCalls
        runtime = InMemoryFunctionRuntime(group: testGroup) { definition in
            var router = HTTPRouter()
            for method in [HTTPMethod.get, .post, .put, .patch, .delete, .options, .head] {
                _ = try? router.add(method, "/{path...}") { request in
                    if request.path.hasPrefix("/hold") { await release.wait() }
                    if request.headers["X-Connector"] != nil {
                        connectorCalls.times.withLock { $0.append(.now) }
                    }
                    if request.path == "/flaky" {
                        let count = flakyCalls.times.withLock { calls in
                            calls.append(.now)
                            return calls.count
                        }
                        let failures = request.queryValue("fail").flatMap { Int($0) } ?? 0
                        if count <= failures { return HTTPResponse(status: .serviceUnavailable, body: .string("busy")) }
                    }
                    let body = try await request.body.collect(upTo: 1 << 20)
                    // A trigger's topic, and headers named X-Test-…, are echoed too.
                    let echoed = request.headers.filter { $0.name == "X-Topic" || $0.name.hasPrefix("X-Test-") }
                        .map { " \($0.name)=\($0.value)" }.joined()
                    return HTTPResponse(
                        body: .string(
                            "\(definition.name) \(request.method) \(request.path)\(request.query.map { "?\($0)" } ?? "") \(body.count)"
                                + echoed
                        ))
                }
            }
            return router
        }
        credentials = try Credentials.loadOrCreate(stateDirectory: state)
        var configuration = GatewayConfiguration(release: "test")
        configuration.coldStartTimeout = coldStartTimeout
        configuration.asyncMaxBody = 1000
        configuration.metricsQueryAuth = metricsQueryAuth
        let store = metricsStore ? try TimeSeriesStore(directory: "\(state)/metrics") : nil
        self.metricsStore = store
        let streams = queueDirectory ?? "\(state)/streams"
        let queue = try queueRetry.map { _ in try AsyncQueue.open(directory: streams, ackWait: queueAckWait) }
        self.queue = queue
        let client = HTTPClient(group: testGroup)
        let logger = Logger(label: "gateway", handler: MemoryLogHandler())
        gateway = Gateway(
            runtime: runtime, configuration: configuration, credentials: credentials, client: client,
            registry: registry,
            queue: queue, metricsStore: store, logger: logger)
        if let queue, let queueRetry, startWorker {
            var settings = QueueWorker.Settings()
            settings.retry = queueRetry
            let callbacks = CallbackWorker(queue: queue, client: client, retry: queueRetry, logger: logger)
            let workers = QueueWorkers(queue: queue, runtime: runtime, callbacks: callbacks) {
                [gateway, runtime, settings] lane in
                QueueWorker(
                    queue: queue, lane: lane, invoker: gateway.invoker, runtime: runtime, settings: settings,
                    logger: logger)
            }
            self.worker = Task { await workers.run() }
        } else {
            worker = nil
        }
        gateway.markReady()
        server = HTTPServer(
            configuration: HTTPServerConfiguration(host: "127.0.0.1", port: 0), group: testGroup,
            responder: try gateway.makeRouter())
        port = try await server.start()[0].port
    }

    func call(_ method: HTTPMethod, _ target: String, json: String? = nil, auth: Bool = true) async throws
        -> (status: Int, headers: HTTPHeaders, text: String)
    {
        var headers = HTTPHeaders()
        if auth {
            let token = Data("\(credentials.user):\(credentials.password)".utf8).base64EncodedString()
            headers.add(name: "Authorization", value: "Basic \(token)")
        }
        if json != nil { headers.add(name: "Content-Type", value: "application/json") }
        let request = HTTPClientRequest(
            method: method, host: "127.0.0.1", port: port, target: target, headers: headers,
            body: json.map { .string($0) } ?? .empty)
        let (head, body) = try await testClient.fetch(request, timeout: .seconds(60))
        return (Int(head.status.code), head.headers, String(decoding: body, as: UTF8.self))
    }

    func deploy(_ name: String, labels: String = "{}", env: String = "{}", annotations: String = "{}") async throws
        -> Int
    {
        try await call(
            .post, "/system/functions",
            json: #"{"service":"\#(name)","image":"local/\#(name):1","labels":\#(labels),"envVars":\#(env),"#
                + #""annotations":\#(annotations)}"#
        ).status
    }

    func tearDown() async {
        worker?.cancel()
        await worker?.value
        release.open()
        await server.shutdown(gracePeriod: .seconds(1))
        await runtime.shutdown()
        try? FileManager.default.removeItem(atPath: state)
    }
}

/// When calls arrived, in order.
final class CallTimes: Sendable {
    let times = Mutex<[ContinuousClock.Instant]>([])
}

func withInMemoryGateway(
    coldStartTimeout: Duration = .seconds(30), queueRetry: RetryPolicy? = nil, startWorker: Bool = true,
    queueDirectory: String? = nil, queueAckWait: Duration = .seconds(30), metricsStore: Bool = false,
    metricsQueryAuth: Bool = true, _ body: (InMemoryGateway) async throws -> Void
) async throws {
    let gateway = try await InMemoryGateway(
        coldStartTimeout: coldStartTimeout, queueRetry: queueRetry, startWorker: startWorker,
        queueDirectory: queueDirectory, queueAckWait: queueAckWait, metricsStore: metricsStore,
        metricsQueryAuth: metricsQueryAuth)
    do {
        try await body(gateway)
    } catch {
        await gateway.tearDown()
        throw error
    }
    await gateway.tearDown()
}

@Suite("Gateway on the in-memory runtime (no root, no containerd)")
struct GatewayInMemoryTests {
    @Test func deployInvokeScaleToZeroWakeUpdateAndRemove() async throws {
        try await withInMemoryGateway { gw in
            #expect(try await gw.deploy("echo") == 200)
            #expect(try await gw.deploy("echo") == 409)
            let listed = try await gw.call(.get, "/system/functions")
            #expect(listed.status == 200 && listed.text.contains(#""name":"echo""#))

            let answer = try await gw.call(.post, "/function/echo/sub/path?x=1", json: "12345")
            #expect(answer.status == 200 && answer.text == "echo POST /sub/path?x=1 5")
            #expect(answer.headers["X-Call-Id"] != nil && answer.headers["X-Served-By"] == "skiff/test")

            #expect(try await gw.call(.post, "/system/scale-function/echo", json: #"{"replicas":0}"#).status == 202)
            #expect(gw.runtime.endpoints(name: "echo", namespace: "openfaas-fn").isEmpty)
            let woken = try await gw.call(.get, "/function/echo")
            #expect(woken.status == 200 && woken.text == "echo GET / 0")
            #expect(gw.runtime.endpoints(name: "echo", namespace: "openfaas-fn").count == 1)

            #expect(
                try await gw.call(
                    .put, "/system/functions", json: #"{"service":"echo","image":"local/echo:2"}"#
                ).status == 200)
            let described = try await gw.call(.get, "/system/function/echo")
            #expect(described.text.contains(#""image":"local/echo:2""#))

            #expect(try await gw.call(.delete, "/system/functions", json: #"{"functionName":"echo"}"#).status == 200)
            let gone = try await gw.call(.get, "/function/echo")
            #expect(gone.status == 404 && gone.headers["X-OpenFaaS-Internal"] == "proxy")
            #expect(gw.runtime.requestsInFlight(name: "echo", namespace: "openfaas-fn") == 0)
        }
    }

    @Test func theProxysOwnFailuresSayWhatHappenedAndReleaseTheReplica() async throws {
        try await withInMemoryGateway(coldStartTimeout: .milliseconds(100)) { gw in
            // Nothing listens at the replica's port: 502.
            #expect(try await gw.deploy("gone", labels: #"{"test.unreachable":"true"}"#) == 200)
            let unreachable = try await gw.call(.get, "/function/gone")
            #expect(unreachable.status == 502 && unreachable.text.contains("Can't reach service for: gone."))
            #expect(unreachable.headers["X-OpenFaaS-Internal"] == "proxy")
            #expect(gw.runtime.requestsInFlight(name: "gone", namespace: "openfaas-fn") == 0)

            // No replica ever becomes ready: 503 once the cold-start wait is over.
            #expect(try await gw.deploy("never", labels: #"{"test.never-ready":"true"}"#) == 200)
            let never = try await gw.call(.get, "/function/never")
            #expect(never.status == 503 && never.text.contains("No endpoints available for: never."))

            // A call the function holds past its exec_timeout: 504, and the replica is free again.
            #expect(try await gw.deploy("slow", env: #"{"exec_timeout":"200ms"}"#) == 200)
            let timedOut = try await gw.call(.get, "/function/slow/hold")
            #expect(timedOut.status == 504 && timedOut.text.contains("timed out"))
            #expect(gw.runtime.requestsInFlight(name: "slow", namespace: "openfaas-fn") == 0)
            #expect(gw.runtime.unbalancedReleases == 0)
        }
    }

    @Test func everyAnswerReleasesItsReplicaExactlyOnceWhetherRelayedOrDropped() async throws {
        try await withInMemoryGateway { gw in
            #expect(try await gw.deploy("echo") == 200)
            let address = FunctionAddress(uncheckedName: "echo", namespace: "openfaas-fn")
            let request = HTTPClientRequest(method: .get, host: "", port: 0, target: "/invoked")
            func inFlight() -> Int { gw.runtime.requestsInFlight(name: "echo", namespace: "openfaas-fn") }

            // Dropped without being relayed (a worker that only wanted the status): released when it goes.
            do {
                let answer = try await gw.gateway.invoker.invoke(request, to: address, callID: "dropped")
                #expect(inFlight() == 1)
                #expect(answer.response.status == .ok && answer.replica.hasPrefix("echo-"))
            }
            #expect(inFlight() == 0)

            // Relayed: the response takes the release over and runs it once the body has been passed on.
            let relayed = try await gw.gateway.invoker.invoke(request, to: address, callID: "relayed").relayed()
            #expect(relayed.status == .ok)
            #expect(inFlight() == 0)

            // And through the proxy, as every /function/ call goes.
            #expect(try await gw.call(.get, "/function/echo").status == 200)
            #expect(inFlight() == 0)
            #expect(gw.runtime.unbalancedReleases == 0)
        }
    }

    @Test func aRefusedRequestChangesNothing() async throws {
        try await withInMemoryGateway { gw in
            let refused = try await gw.call(
                .post, "/system/functions", json: #"{"service":"sneaky","image":"x:1"}"#, auth: false)
            #expect(refused.status == 401)
            let bad = try await gw.call(.post, "/system/functions", json: #"{"service":"Bad_Name","image":"x:1"}"#)
            #expect(bad.status == 400)
            #expect(try await gw.runtime.list(namespace: "openfaas-fn").isEmpty)
        }
    }

    /// Deploy and update are validated once, by the runtime behind the gateway; the gateway answers with the
    /// runtime's words and status, in the order faas-cli relies on.
    @Test func theRuntimeValidatesAndTheGatewaySaysWhy() async throws {
        try await withInMemoryGateway { gw in
            let refusals: [(String, HTTPMethod, String, Int, String)] = [
                ("a dot in the name", .post, #"{"service":"a.b","image":"x:1"}"#, 400, "must not contain '.'"),
                (
                    "a missing secret", .post, #"{"service":"s","image":"x:1","secrets":["nope"]}"#, 400,
                    "unable to find secret: nope"
                ),
                (
                    "an unknown namespace", .post, #"{"service":"n","image":"x:1","namespace":"nowhere"}"#, 400,
                    "namespace not valid"
                ),
                (
                    "a bad quantity", .post, #"{"service":"q","image":"x:1","limits":{"memory":"lots"}}"#, 400,
                    "limits.memory"
                ),
                // An update of an unknown function is 404 whatever else is wrong, so faas-cli falls back to POST.
                (
                    "an update of nothing", .put, #"{"service":"new","image":"x:1","limits":{"memory":"lots"}}"#, 404,
                    "function: new.openfaas-fn not found"
                ),
            ]
            for (what, method, body, status, words) in refusals {
                let answer = try await gw.call(method, "/system/functions", json: body)
                #expect(answer.status == status && answer.text.contains(words), "\(what): \(answer)")
            }
            #expect(try await gw.runtime.list(namespace: "openfaas-fn").isEmpty)
            #expect(try await gw.deploy("echo") == 200)
            let again = try await gw.call(.post, "/system/functions", json: #"{"service":"echo","image":"x:1"}"#)
            #expect(again.status == 409 && again.text.contains("function echo.openfaas-fn already exists"))
        }
    }

    @Test func secretsLiveBehindTheRuntime() async throws {
        try await withInMemoryGateway { gw in
            let create = #"{"name":"api-key","value":"one"}"#
            #expect(try await gw.call(.post, "/system/secrets", json: create).status == 200)
            #expect(try await gw.call(.post, "/system/secrets", json: create).status == 409)
            let listed = try await gw.call(.get, "/system/secrets")
            #expect(listed.status == 200 && listed.text == #"[{"name":"api-key","namespace":"openfaas-fn"}]"#)
            // `rawValue` (base64) wins over `value`.
            let rotate = #"{"name":"api-key","value":"ignored","rawValue":"dHdv"}"#
            #expect(try await gw.call(.put, "/system/secrets", json: rotate).status == 200)
            #expect(gw.runtime.secretValue(namespace: "openfaas-fn", name: "api-key") == Array("two".utf8))
            #expect(try await gw.call(.put, "/system/secrets", json: #"{"name":"other","value":"x"}"#).status == 404)

            let uses = #"{"service":"user","image":"x:1","secrets":["api-key"]}"#
            #expect(try await gw.call(.post, "/system/functions", json: uses).status == 200)
            let inUse = try await gw.call(.delete, "/system/secrets", json: #"{"name":"api-key"}"#)
            #expect(inUse.status == 409 && inUse.text.contains("used by user"))
            #expect(try await gw.call(.delete, "/system/functions", json: #"{"functionName":"user"}"#).status == 200)
            #expect(try await gw.call(.delete, "/system/secrets", json: #"{"name":"api-key"}"#).status == 200)
            #expect(try await gw.call(.delete, "/system/secrets", json: #"{"name":"api-key"}"#).status == 404)
            #expect(try await gw.call(.get, "/system/secrets?namespace=nowhere").status == 400)
        }
    }
}
