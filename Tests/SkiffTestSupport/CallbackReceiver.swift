import SkiffHTTP
import Synchronization

/// A loopback server that records the callbacks it gets; `failFirst` of them are answered 503 (a receiver that is
/// down for a while), and with `hold` every callback waits for the gate before it is read (a receiver that is slow).
public final class CallbackReceiver: Sendable {
    public struct Callback: Sendable {
        public var headers: HTTPHeaders
        public var body: String
    }

    public final class Record: Sendable {
        public let received = Mutex<[Callback]>([])
        public let refused = Atomic<Int>(0)
    }

    public let record = Record()
    public let server: HTTPServer
    public let port: Int

    public init(failFirst: Int = 0, hold: ReleaseGate? = nil) async throws {
        let record = self.record
        var router = HTTPRouter()
        try router.add(.post, "/{path...}") { request in
            await hold?.wait()
            if record.refused.load(ordering: .relaxed) < failFirst {
                record.refused.add(1, ordering: .relaxed)
                return HTTPResponse(status: .serviceUnavailable)
            }
            let body = try await request.body.collect(upTo: 1 << 20)
            record.received.withLock {
                $0.append(Callback(headers: request.headers, body: String(decoding: body, as: UTF8.self)))
            }
            return HTTPResponse(status: .ok)
        }
        server = HTTPServer(
            configuration: HTTPServerConfiguration(host: "127.0.0.1", port: 0), group: testGroup, responder: router)
        port = try await server.start()[0].port
    }

    public var url: String { "http://127.0.0.1:\(port)/done" }

    /// The first `count` callbacks, once they have come (the bound only ends a test that has already failed).
    public func callbacks(_ count: Int, timeout: Duration = .seconds(60)) async -> [Callback] {
        _ = await eventually(timeout: timeout) { self.record.received.withLock { $0.count } >= count }
        return record.received.withLock { $0 }
    }
}
