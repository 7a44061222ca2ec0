import Foundation
import SkiffHTTP
import SkiffNATS

/// nats-server's monitoring endpoints for `skiff nats-server`, the subset client harnesses read: `/varz` (they
/// wait for its 200 before starting), `/connz` and `/healthz`, with nats-server's field names.
enum NATSMonitor {
    static func router(for server: NATSServer) throws -> HTTPRouter {
        var router = HTTPRouter()
        try router.add(.get, "/varz") { _ in
            try json(await server.statistics())
        }
        try router.add(.get, "/connz") { _ in
            let connections = await server.connections()
            return try json(
                Connz(
                    serverID: server.serverIdentifier, now: Date(), numConnections: connections.count,
                    total: connections.count, offset: 0, limit: max(1024, connections.count),
                    connections: connections))
        }
        try router.add(.get, "/healthz") { _ in try json(["status": "ok"]) }
        try router.add(.get, "/") { _ in
            HTTPResponse.text(.ok, "skiff nats-server monitoring: /varz /connz /healthz\n")
        }
        return router
    }

    struct Connz: Encodable {
        var serverID: String
        var now: Date
        var numConnections: Int
        var total: Int
        var offset: Int
        var limit: Int
        var connections: [ConnectionSnapshot]

        enum CodingKeys: String, CodingKey {
            case serverID = "server_id"
            case numConnections = "num_connections"
            case now, total, offset, limit, connections
        }
    }

    private static func json(_ value: some Encodable) throws -> HTTPResponse {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes, .sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        return HTTPResponse(
            status: .ok, headers: ["Content-Type": "application/json"], body: .bytes(Array(try encoder.encode(value))))
    }
}
