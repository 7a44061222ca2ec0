import SkiffAPI
import SkiffRuntime
import Synchronization

/// Per-function upstream timeouts: the function's own `exec_timeout` or `write_timeout` env (the values its
/// watchdog also reads, so one setting drives every hop), else the gateway's default. Cached only for functions
/// that exist, so that callers naming unknown functions cannot grow it and a call made before a deploy cannot pin
/// the default; routes that deploy, change or remove a function forget its entry.
public final class TimeoutCache: Sendable {
    private let runtime: any FunctionRuntime
    private let fallback: Duration
    private let cache = Mutex<[FunctionAddress: Duration]>([:])

    public init(runtime: any FunctionRuntime, fallback: Duration) {
        self.runtime = runtime
        self.fallback = fallback
    }

    public func timeout(for address: FunctionAddress) async -> Duration {
        if let cached = cache.withLock({ $0[address] }) { return cached }
        guard let status = try? await runtime.status(name: address.name, namespace: address.namespace) else {
            return fallback
        }
        let timeout = Self.timeout(envVars: status.definition.envVars, fallback: fallback)
        cache.withLock { $0[address] = timeout }
        return timeout
    }

    public static func timeout(envVars: [String: String], fallback: Duration) -> Duration {
        let values = ["exec_timeout", "write_timeout"].compactMap { key in
            envVars[key].flatMap { try? GoDuration.parse($0, field: key, atMost: GoDuration.timeoutLimit) }
        }.filter { $0 > .zero }
        return values.max() ?? fallback
    }

    /// Entries held: at most one per function that exists.
    public var count: Int { cache.withLock { $0.count } }

    public func forget(_ address: FunctionAddress) {
        _ = cache.withLock { $0.removeValue(forKey: address) }
    }
}
