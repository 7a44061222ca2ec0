import Foundation
import SkiffGateway
import SkiffHTTP
import SkiffLog
import SkiffMetrics
import SkiffPOSIX
import SkiffQueue
import SkiffRuntime
import SkiffTestSupport

/// The gateway in front of a private runtime instance (its own namespace, bridge, subnet and state), on
/// 127.0.0.1 with a free port, spoken to over HTTP as faas-cli would.
final class GatewayHarness: Sendable {
    let runtime: RuntimeHarness
    let gateway: Gateway
    let server: HTTPServer
    let port: Int
    let credentials: Credentials
    /// The queue of asynchronous calls and its worker, when the test asked for them.
    let queue: AsyncQueue?
    private let worker: Task<Void, Never>?

    init(
        coldStartTimeout: Duration = .seconds(30), deployTimeout: Duration = .seconds(30), authInvoke: Bool = false,
        withQueue: Bool = false, adjust: (inout RuntimeConfiguration) -> Void = { _ in }
    ) async throws {
        runtime = try await RuntimeHarness(deployTimeout: deployTimeout, adjust: adjust)
        credentials = try Credentials.loadOrCreate(stateDirectory: runtime.stateDirectory)
        var configuration = GatewayConfiguration(release: "test")
        configuration.defaultNamespace = runtime.namespace
        configuration.coldStartTimeout = coldStartTimeout
        configuration.requireAuthForInvoke = authInvoke
        let queue =
            withQueue
            ? try AsyncQueue.open(directory: "\(runtime.stateDirectory)/streams", defaultNamespace: runtime.namespace)
            : nil
        self.queue = queue
        let client = HTTPClient(group: testGroup)
        let logger = Logger(label: "gateway", handler: runtime.logs)
        gateway = Gateway(
            runtime: runtime.runtime, configuration: configuration,
            credentials: credentials, client: client, registry: Self.registryWithProcess(), queue: queue,
            logger: logger)
        if let queue {
            let callbacks = CallbackWorker(queue: queue, client: client, retry: RetryPolicy(), logger: logger)
            let workers = QueueWorkers(queue: queue, runtime: runtime.runtime, callbacks: callbacks) {
                [gateway, runtime] lane in
                QueueWorker(
                    queue: queue, lane: lane, invoker: gateway.invoker, runtime: runtime.runtime, logger: logger)
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

    var namespace: String { runtime.namespace }

    struct Answer: Sendable {
        var status: Int
        var headers: HTTPHeaders
        var body: [UInt8]
        var text: String { String(decoding: body, as: UTF8.self) }
        func json() throws -> Any { try JSONSerialization.jsonObject(with: Data(body)) }
    }

    /// A request as faas-cli sends it: admin credentials unless `auth` is false (or another header is given).
    func call(
        _ method: HTTPMethod, _ target: String, json: String? = nil, body: [UInt8]? = nil, auth: Bool = true,
        headers extra: [(String, String)] = [], timeout: Duration = .seconds(60)
    ) async throws -> Answer {
        var headers = HTTPHeaders(extra)
        if auth && !headers.contains(name: "Authorization") {
            let token = Data("\(credentials.user):\(credentials.password)".utf8).base64EncodedString()
            headers.add(name: "Authorization", value: "Basic \(token)")
        }
        var payload = body ?? []
        if let json {
            payload = Array(json.utf8)
            headers.replaceOrAdd(name: "Content-Type", value: "application/json")
        }
        let request = HTTPClientRequest(
            method: method, host: "127.0.0.1", port: port, target: target, headers: headers,
            body: payload.isEmpty && json == nil ? .empty : .bytes(payload))
        let (head, bytes) = try await testClient.fetch(request, timeout: timeout, maxBytes: 256 * 1024 * 1024)
        return Answer(status: head.status.code, headers: head.headers, body: bytes)
    }

    /// A deploy body as faas-cli builds it.
    func deployBody(_ name: String, image: String, labels: String = "{}", extra: String = "") -> String {
        #"{"service":"\#(name)","image":"\#(image)","namespace":"\#(namespace)","labels":\#(labels),"annotations":{}\#(extra)}"#
    }

    func tearDown() async {
        worker?.cancel()
        await server.shutdown(gracePeriod: .seconds(2))
        await runtime.tearDown()
    }
}

extension GatewayHarness {
    /// A registry with the process's collector, as the daemon makes it.
    static func registryWithProcess() -> MetricsRegistry {
        let registry = MetricsRegistry()
        registry.register(ProcessMetrics(startTime: 0))
        return registry
    }
}

/// Runs `body` with a fresh gateway harness and always tears it down.
func withGateway(
    coldStartTimeout: Duration = .seconds(30), deployTimeout: Duration = .seconds(30), authInvoke: Bool = false,
    withQueue: Bool = false, adjust: (inout RuntimeConfiguration) -> Void = { _ in },
    _ body: (GatewayHarness) async throws -> Void
) async throws {
    let harness = try await GatewayHarness(
        coldStartTimeout: coldStartTimeout, deployTimeout: deployTimeout, authInvoke: authInvoke,
        withQueue: withQueue, adjust: adjust)
    do {
        try await body(harness)
    } catch {
        for record in harness.runtime.logs.all where record.level >= .notice {
            print("runtime \(record.level): \(record.message)")
        }
        await harness.tearDown()
        throw error
    }
    await harness.tearDown()
}
