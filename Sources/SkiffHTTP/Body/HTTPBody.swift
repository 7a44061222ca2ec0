import SkiffPOSIX

/// An incoming body: a request body on the server, a response body on the client.
/// An async sequence of byte chunks read from the socket as the consumer asks for them (streamed, bounded),
/// or fixed bytes. Iterate it once.
public struct HTTPBody: AsyncSequence, Sendable {
    public typealias Element = [UInt8]

    enum Storage: Sendable {
        case bytes([UInt8])
        case stream(ByteStream)
        case producer(AsyncThrowingStream<[UInt8], any Error>)
    }

    let storage: Storage
    /// Bytes the consumer accepts; more throws ``HTTPBodyError/tooLarge(limit:)`` (answered 413).
    public private(set) var limit: Int
    /// The declared length (Content-Length), when the sender gave one.
    public let declaredLength: Int?

    public static let empty = HTTPBody(storage: .bytes([]), limit: .max, declaredLength: 0)

    public static func bytes(_ bytes: [UInt8]) -> HTTPBody {
        HTTPBody(storage: .bytes(bytes), limit: .max, declaredLength: bytes.count)
    }

    public static func string(_ text: String) -> HTTPBody { .bytes(Array(text.utf8)) }

    /// A body produced on demand, e.g. a file read chunk by chunk: `produce` is called for the next chunk only
    /// when the previous one has been sent, and returns nil at the end. With a `length` it is sent with
    /// Content-Length (the producer must deliver exactly that many bytes), otherwise chunked.
    public static func producing(length: Int? = nil, _ produce: @escaping @Sendable () async throws -> [UInt8]?)
        -> HTTPBody
    {
        HTTPBody(storage: .producer(AsyncThrowingStream(unfolding: produce)), limit: .max, declaredLength: length)
    }

    init(storage: Storage, limit: Int, declaredLength: Int?) {
        self.storage = storage
        self.limit = limit
        self.declaredLength = declaredLength
    }

    /// The same body with another limit (a route's own maximum).
    public func limited(to bytes: Int) -> HTTPBody {
        var copy = self
        copy.limit = bytes
        return copy
    }

    /// Whether the declared length already exceeds the limit, so a server can answer 413 before reading.
    public var isDeclaredTooLarge: Bool { (declaredLength ?? 0) > limit }

    /// Reads the whole body into memory, failing past `maxBytes` (and past ``limit``).
    public func collect(upTo maxBytes: Int) async throws -> [UInt8] {
        let cap = Swift.min(maxBytes, limit)
        if case .bytes(let bytes) = storage {
            if bytes.count > cap { throw HTTPBodyError.tooLarge(limit: cap) }
            return bytes
        }
        var result: [UInt8] = []
        if let declaredLength, declaredLength <= cap { result.reserveCapacity(declaredLength) }
        for try await chunk in self.limited(to: cap) {
            if result.isEmpty { result = chunk } else { result.append(contentsOf: chunk) }
        }
        return result
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(body: self) }

    public struct AsyncIterator: AsyncIteratorProtocol {
        let body: HTTPBody
        private var received = 0
        private var deliveredBytes = false
        private var producerIterator: AsyncThrowingStream<[UInt8], any Error>.AsyncIterator?

        init(body: HTTPBody) { self.body = body }

        public mutating func next() async throws -> [UInt8]? {
            if body.isDeclaredTooLarge { throw HTTPBodyError.tooLarge(limit: body.limit) }
            switch body.storage {
            case .bytes(let bytes):
                if deliveredBytes || bytes.isEmpty { return nil }
                deliveredBytes = true
                if bytes.count > body.limit { throw HTTPBodyError.tooLarge(limit: body.limit) }
                return bytes
            case .stream(let stream):
                guard let chunk = try await stream.next() else { return nil }
                return try counted(chunk)
            case .producer(let producer):
                if producerIterator == nil { producerIterator = producer.makeAsyncIterator() }
                guard let chunk = try await producerIterator?.next() else { return nil }
                return try counted(chunk)
            }
        }

        private mutating func counted(_ chunk: [UInt8]) throws -> [UInt8] {
            received += chunk.count
            if received > body.limit { throw HTTPBodyError.tooLarge(limit: body.limit) }
            return chunk
        }
    }
}

/// Why reading a body failed.
public enum HTTPBodyError: Error, Equatable, HTTPResponseError {
    case tooLarge(limit: Int)
    /// The peer closed or reset the connection before the body was complete.
    case connectionClosed

    public var status: HTTPStatus {
        switch self {
        case .tooLarge: return .payloadTooLarge
        case .connectionClosed: return .badRequest
        }
    }

    public var response: HTTPResponse { .text(status, message) }

    public var message: String {
        switch self {
        case .tooLarge(let limit): return "the request body exceeds this route's limit of \(limit) bytes"
        case .connectionClosed: return "the connection closed before the body was complete"
        }
    }
}
