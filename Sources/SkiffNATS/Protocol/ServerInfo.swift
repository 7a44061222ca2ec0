import Foundation

/// The `INFO` a client reads first: what nats-server 2.9 sends, minus `connect_urls` (a single node has no
/// other URL for a client's reconnect pool). nats.py and the newer Python client index several of these
/// fields directly.
struct ServerInfo: Encodable, Sendable {
    var serverID: String
    var serverName: String
    var version: String
    var proto = 1
    var go: String
    var host: String
    var port: Int
    var headers = true
    var maxPayload: Int
    var authRequired: Bool?
    var jetstream: Bool?
    var clientID: UInt64?
    var clientIP: String?
    /// Lame-duck mode: the server is about to close this connection; clients reconnect elsewhere or later.
    var ldm: Bool?

    enum CodingKeys: String, CodingKey {
        case serverID = "server_id"
        case serverName = "server_name"
        case version, proto, go, host, port, headers
        case maxPayload = "max_payload"
        case authRequired = "auth_required"
        case jetstream
        case clientID = "client_id"
        case clientIP = "client_ip"
        case ldm
    }

    /// `INFO {json}\r\n`.
    func line() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        // Every field is a string, number or boolean: encoding cannot fail.
        let json = (try? encoder.encode(self)) ?? Data("{}".utf8)
        return Array("INFO ".utf8) + Array(json) + [0x0D, 0x0A]
    }
}
