import SkiffAPI
import SkiffHTTP

/// The runtime's errors as the gateway answers them, in OpenFaaS's plain-text shape: bad input 400, unknown 404,
/// unusable image 400, not ready in time 503, containerd trouble 500, a newer change 409.
extension FunctionRuntimeError: HTTPResponseError {
    public var status: HTTPStatus {
        switch self {
        case .invalid, .image: return .badRequest
        case .notFound: return .notFound
        case .timedOut: return .serviceUnavailable
        case .system: return .internalServerError
        case .conflict: return .conflict
        }
    }

    public var response: HTTPResponse { .text(status, description) }
}
