import SkiffAPI

/// The gateway's settings; `skiff serve` fills them from flags, environment and the config file.
public struct GatewayConfiguration: Sendable {
    public var defaultNamespace = "openfaas-fn"
    /// Longest a call waits for the function, unless the function's `exec_timeout`/`write_timeout` env says
    /// otherwise (faasd's default: 60 s).
    public var upstreamTimeout: Duration = .seconds(60)
    /// Longest an invocation waits for a function at zero to get a ready replica.
    public var coldStartTimeout: Duration = .seconds(60)
    /// Whether /function/* needs the admin credentials too (OpenFaaS leaves invocations open).
    public var requireAuthForInvoke = false
    /// Most replicas one function may have: scale requests and `com.openfaas.scale.min` above it are refused.
    public var maxReplicas = 64
    public var release: String
    public var sha = "unknown"
    /// Largest body an asynchronous call may queue (`--async-max-body`); 413 above it.
    public var asyncMaxBody = 1 << 20
    /// Whether the metrics store's query API (`/api/v1/…`) needs the admin credentials (`--metrics-query-auth`).
    public var metricsQueryAuth = true
    /// Samples one metrics query may read (`--metrics-query-max-samples`); nil: the engine's default.
    public var metricsQueryMaxSamples: Int?
    /// What /system/info says of the NATS broker; nil when it is off.
    public var broker: GatewayInfo.Broker?

    public init(release: String) {
        self.release = release
    }
}
