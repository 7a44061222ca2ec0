import Foundation
import SkiffAPI
import SkiffHTTP
import SkiffRuntime

/// GET /system/logs: NDJSON, one line per entry, each flushed as it is written; with `follow=true` the stream
/// stays open until the client leaves.
extension Gateway {
    func addLogRoutes(to router: inout HTTPRouter) throws {
        try router.add(.get, "/system/logs") { [self] request in
            guard let name = request.queryValue("name"), !name.isEmpty else {
                throw GatewayError(422, "could not parse the log request: name is required")
            }
            let namespace = namespace(request)
            var since = Date().addingTimeInterval(-300)
            if let text = request.queryValue("since"), !text.isEmpty {
                guard let date = GoTime.parse(text) else {
                    throw GatewayError(422, "could not parse the log request: since must be an RFC 3339 time")
                }
                since = date
            }
            var tail: Int?
            if let text = request.queryValue("tail"), !text.isEmpty {
                guard let value = Int(text) else {
                    throw GatewayError(422, "could not parse the log request: tail must be a whole number")
                }
                tail = value > 0 ? value : nil
            }
            let follow = ["true", "1"].contains(request.queryValue("follow") ?? "false")
            let instance = request.queryValue("instance").flatMap { $0.isEmpty ? nil : $0 }
            guard ResourceName.isValid(name), ResourceName.isValid(namespace) else {
                throw GatewayError(404, "function \(name).\(namespace) not found")
            }
            let entries: AsyncThrowingStream<FunctionLogEntry, any Error>
            do {
                entries = try await runtime.logs(
                    LogQuery(name: name, namespace: namespace, since: since, tail: tail, follow: follow))
            } catch FunctionRuntimeError.notFound {
                throw GatewayError(404, "function \(name).\(namespace) not found")
            }
            return HTTPResponse(
                status: .ok, headers: ["Content-Type": "application/x-ndjson"],
                body: .stream { writer in
                    let encoder = JSONEncoder()
                    encoder.outputFormatting = [.withoutEscapingSlashes]
                    for try await entry in entries where instance == nil || entry.instance == instance {
                        let message = LogMessage(
                            name: entry.name, namespace: entry.namespace, instance: entry.instance,
                            timestamp: GoTime.format(entry.timestamp), text: entry.text)
                        try await writer.write(Array(try encoder.encode(message)) + [UInt8(ascii: "\n")])
                        try await writer.flush()
                    }
                })
        }
    }
}
