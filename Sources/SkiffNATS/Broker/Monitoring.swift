import Foundation

/// One open connection as `/connz` shows it (nats-server's field names).
public struct ConnectionSnapshot: Codable, Sendable, Equatable {
    public var cid: UInt64
    public var ip: String
    public var port: Int
    public var uptimeNanoseconds: UInt64
    public var pendingBytes: Int
    public var inMsgs: Int
    public var outMsgs: Int
    public var inBytes: Int
    public var outBytes: Int
    public var subscriptions: Int
    public var name: String?
    public var lang: String?
    public var version: String?

    enum CodingKeys: String, CodingKey {
        case cid, ip, port
        case uptimeNanoseconds = "uptime_ns"
        case pendingBytes = "pending_bytes"
        case inMsgs = "in_msgs"
        case outMsgs = "out_msgs"
        case inBytes = "in_bytes"
        case outBytes = "out_bytes"
        case subscriptions, name, lang, version
    }
}

/// The server's counters as `/varz` shows them (nats-server's field names for what Skiff keeps).
public struct ServerStatistics: Codable, Sendable {
    public var serverID: String
    public var serverName: String
    public var version: String
    public var host: String
    public var port: Int
    public var maxPayload: Int
    public var maxConnections: Int
    public var start: Date
    public var connections: Int
    public var totalConnections: Int
    public var inMsgs: Int
    public var outMsgs: Int
    public var inBytes: Int
    public var outBytes: Int
    public var slowConsumers: Int
    public var subscriptions: Int

    enum CodingKeys: String, CodingKey {
        case serverID = "server_id"
        case serverName = "server_name"
        case version, host, port
        case maxPayload = "max_payload"
        case maxConnections = "max_connections"
        case start, connections
        case totalConnections = "total_connections"
        case inMsgs = "in_msgs"
        case outMsgs = "out_msgs"
        case inBytes = "in_bytes"
        case outBytes = "out_bytes"
        case slowConsumers = "slow_consumers"
        case subscriptions
    }
}
