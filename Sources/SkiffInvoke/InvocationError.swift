import SkiffPOSIX

/// Why a call did not reach a function or got no answer from it. Each case carries the status and message that
/// OpenFaaS's gateway gives for it (faas-cli and clients match on them); the asynchronous worker will retry the
/// ones a later attempt may cure.
public enum InvocationError: Error, Sendable, Equatable {
    /// The name is not a function name at all.
    case invalidName(String)
    /// No such function (`name.namespace`).
    case notFound(function: String)
    /// No replica became ready within the cold-start limit.
    case noReplica(name: String)
    /// The replica refused or dropped the connection.
    case unreachable(name: String)
    /// The replica did not answer within the function's timeout.
    case timedOut(function: String, after: Duration)

    public var code: Int {
        switch self {
        case .invalidName, .notFound: return 404
        case .noReplica: return 503
        case .unreachable: return 502
        case .timedOut: return 504
        }
    }

    public var message: String {
        switch self {
        case .invalidName(let text): return "error finding function \(text): not a valid function name"
        case .notFound(let function): return "error finding function \(function): not found"
        case .noReplica(let name): return "No endpoints available for: \(name)."
        case .unreachable(let name): return "Can't reach service for: \(name)."
        case .timedOut(let function, let after): return "Function \(function) timed out after \(after.seconds)s"
        }
    }

    /// Whether the call reached a replica: its answer then carries the call id, so the caller can find the log line.
    public var reachedReplica: Bool {
        switch self {
        case .unreachable, .timedOut: return true
        default: return false
        }
    }
}
