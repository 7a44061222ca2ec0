import Foundation
import SkiffAPI
import SkiffHTTP
import SkiffInvoke
import SkiffLog
import SkiffMetrics
import SkiffMetricsStore
import SkiffQueue
import SkiffRuntime
import Synchronization

/// The OpenFaaS-compatible gateway: the system API (`/system/...`), invocations (`/function/...`), `/healthz`
/// and `/metrics`, in the daemon's own process. Route handlers live in `Routes/`, one file per group; the
/// invocation path in `Invoke/`.
public final class Gateway: Sendable {
    let runtime: any FunctionRuntime
    let configuration: GatewayConfiguration
    let credentials: Credentials
    /// What `/metrics` renders; the gateway adds its collectors, the daemon its own (the process's).
    let registry: MetricsRegistry
    let logger: Logger
    /// The one path by which anything calls a function; the proxy and (next) the queue's worker share it.
    public let invoker: FunctionInvoker
    let proxy: FunctionProxy
    /// Where `/async-function/…` queues calls; nil when the daemon runs no queue (503 then).
    let queue: (any CallQueue)?
    /// The metrics store's query API (`/api/v1/…`); nil when the daemon keeps no store (404 then).
    let metricsAPI: PrometheusAPI?
    var timeouts: TimeoutCache { invoker.timeouts }
    var metrics: InvocationMetrics { invoker.metrics }
    /// The invocation counters, for the daemon to carry counts over from its metrics store at start.
    public var invocationMetrics: InvocationMetrics { invoker.metrics }
    private let restored = RestoreGate()

    public init(
        runtime: any FunctionRuntime, configuration: GatewayConfiguration,
        credentials: Credentials, client: HTTPClient, registry: MetricsRegistry = MetricsRegistry(),
        queue: (any CallQueue)? = nil, metricsStore: TimeSeriesStore? = nil, logger: Logger
    ) {
        self.runtime = runtime
        self.configuration = configuration
        self.credentials = credentials
        self.registry = registry
        self.logger = logger
        self.queue = queue
        metricsAPI = metricsStore.map {
            PrometheusAPI(store: $0, maximumSamples: configuration.metricsQueryMaxSamples)
        }
        invoker = FunctionInvoker(
            runtime: runtime, client: client, metrics: InvocationMetrics(),
            timeouts: TimeoutCache(runtime: runtime, fallback: configuration.upstreamTimeout),
            coldStartTimeout: configuration.coldStartTimeout, logger: logger)
        proxy = FunctionProxy(
            invoker: invoker, defaultNamespace: configuration.defaultNamespace,
            servedBy: "skiff/\(configuration.release)")
        registry.register(invoker.metrics)
        registry.register(ReplicaMetrics(runtime: runtime))
        if let queue { registry.register(queue) }
    }

    /// Set once the runtime has restored its functions; until then /healthz answers 503, the system API 503
    /// with Retry-After, and invocations wait.
    public func markReady() { restored.open() }
    var isReady: Bool { restored.isOpen }

    /// Every route, behind basic auth for /system.
    public func makeRouter() throws -> HTTPRouter {
        var router = HTTPRouter()
        router.use(
            BasicAuthMiddleware(
                credentials: credentials, protectsInvocations: configuration.requireAuthForInvoke,
                protectsMetricsQueries: configuration.metricsQueryAuth))
        router.use(RestoreGateMiddleware(gate: restored, invocationWait: configuration.coldStartTimeout))
        try addSystemRoutes(to: &router)
        try addFunctionRoutes(to: &router)
        try addSecretRoutes(to: &router)
        try addNamespaceRoutes(to: &router)
        try addLogRoutes(to: &router)
        try addImageRoutes(to: &router)
        try addQueueRoutes(to: &router)
        try addMetricsQueryRoutes(to: &router)
        let proxy = self.proxy
        let enqueue = AsyncEnqueue(
            queue: queue, runtime: runtime, defaultNamespace: configuration.defaultNamespace,
            maxBody: configuration.asyncMaxBody, servedBy: "skiff/\(configuration.release)")
        for method in HTTPMethod.invocationMethods {
            try router.add(method, "/function/{function}", handler: proxy.respond)
            try router.add(method, "/function/{function}/{path...}", handler: proxy.respond)
            try router.add(method, "/async-function/{function}", handler: enqueue.respond)
            try router.add(method, "/async-function/{function}/{path...}", handler: enqueue.respond)
        }
        return router
    }

    /// The namespace a request names in its query (`?namespace=`), else the default.
    func namespace(_ request: HTTPRequest, _ fromBody: String? = nil) -> String {
        if let fromBody, !fromBody.isEmpty { return fromBody }
        if let value = request.queryValue("namespace"), !value.isEmpty { return value }
        return configuration.defaultNamespace
    }

    /// 400 `namespace not valid` unless the namespace is a function namespace.
    func requireNamespace(_ namespace: String) async throws {
        guard ResourceName.isValid(namespace), try await runtime.namespaceLabels(namespace) != nil else {
            throw FunctionRuntimeError.namespaceNotValid(namespace)
        }
    }
}

extension HTTPMethod {
    /// What /function/* forwards: every method a function may want.
    static let invocationMethods: [HTTPMethod] = [.get, .post, .put, .patch, .delete, .options, .head]
}
