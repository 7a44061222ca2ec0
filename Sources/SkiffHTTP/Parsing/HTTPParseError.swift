/// Why bytes from a peer are not a valid HTTP/1.x message. Each case maps to the status a server answers with.
public struct HTTPParseError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// Request line and headers exceed the head limit → 431.
        case headTooLarge
        /// Syntax error in the start line, a header field or the chunked framing → 400.
        case malformed
        /// A Transfer-Encoding other than `chunked` → 501.
        case unsupportedTransferEncoding
        /// An HTTP version other than 1.0 and 1.1 → 505.
        case unsupportedVersion
        /// The peer closed in the middle of a message.
        case truncated
    }

    public let kind: Kind
    public let reason: String

    public init(_ kind: Kind, _ reason: String) {
        self.kind = kind
        self.reason = reason
    }

    public var status: HTTPStatus {
        switch kind {
        case .headTooLarge: return .requestHeaderFieldsTooLarge
        case .malformed, .truncated: return .badRequest
        case .unsupportedTransferEncoding: return .notImplemented
        case .unsupportedVersion: return .httpVersionNotSupported
        }
    }

    public var description: String { reason }
}
