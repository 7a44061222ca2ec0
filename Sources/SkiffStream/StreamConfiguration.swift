/// A stream's configuration as JetStream clients send it to `$JS.API.STREAM.CREATE` (its JSON names; fields a
/// client leaves out take JetStream's defaults). Skiff stores and enforces the single-node subset.
public struct StreamConfiguration: Codable, Sendable, Equatable {
    public enum Retention: String, Codable, Sendable {
        /// Messages stay until a limit removes them.
        case limits
        /// Each message is removed once a consumer acknowledges it (the durable queue's retention).
        case workQueue = "workqueue"
    }

    public enum Discard: String, Codable, Sendable {
        /// At a limit, the oldest messages make room.
        case old
        /// At a limit, new messages are refused.
        case new
    }

    public var name: String
    public var subjects: [String]
    public var retention: Retention
    /// -1: no limit.
    public var maxMessages: Int
    /// -1: no limit.
    public var maxBytes: Int
    /// Nanoseconds; 0: no limit.
    public var maxAge: Int64
    /// -1: no limit.
    public var maxMessageSize: Int
    public var discard: Discard
    /// Nanoseconds within which a repeated `Nats-Msg-Id` is a duplicate (JetStream's default: two minutes).
    public var duplicateWindow: Int64
    /// `file` or `memory`; Skiff keeps both on disk.
    public var storage: String
    public var replicas: Int

    public init(name: String, subjects: [String], retention: Retention = .limits) {
        self.name = name
        self.subjects = subjects
        self.retention = retention
        maxMessages = -1
        maxBytes = -1
        maxAge = 0
        maxMessageSize = -1
        discard = .old
        duplicateWindow = 120_000_000_000
        storage = "file"
        replicas = 1
    }

    enum CodingKeys: String, CodingKey {
        case name, subjects, retention, discard, storage
        case maxMessages = "max_msgs"
        case maxBytes = "max_bytes"
        case maxAge = "max_age"
        case maxMessageSize = "max_msg_size"
        case duplicateWindow = "duplicate_window"
        case replicas = "num_replicas"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            name: try container.decode(String.self, forKey: .name),
            subjects: try container.decodeIfPresent([String].self, forKey: .subjects) ?? [],
            retention: try container.decodeIfPresent(Retention.self, forKey: .retention) ?? .limits)
        maxMessages = try container.decodeIfPresent(Int.self, forKey: .maxMessages) ?? maxMessages
        maxBytes = try container.decodeIfPresent(Int.self, forKey: .maxBytes) ?? maxBytes
        maxAge = try container.decodeIfPresent(Int64.self, forKey: .maxAge) ?? maxAge
        maxMessageSize = try container.decodeIfPresent(Int.self, forKey: .maxMessageSize) ?? maxMessageSize
        discard = try container.decodeIfPresent(Discard.self, forKey: .discard) ?? discard
        let window = try container.decodeIfPresent(Int64.self, forKey: .duplicateWindow) ?? 0
        duplicateWindow = window > 0 ? window : duplicateWindow
        storage = try container.decodeIfPresent(String.self, forKey: .storage) ?? storage
        replicas = try container.decodeIfPresent(Int.self, forKey: .replicas) ?? replicas
    }

    /// Why this configuration cannot be a stream here, in JetStream's words where it has them; nil when it can.
    public var problem: String? {
        if name.isEmpty || name.contains(where: { " .*>\t\r\n/\\".contains($0) }) {
            return "stream name is required and can not contain '.', '*', '>'"
        }
        if subjects.isEmpty { return "stream needs at least one subject" }
        if replicas > 1 { return "replicas > 1 not supported in non-clustered mode" }
        if !["file", "memory"].contains(storage) { return "storage must be file or memory" }
        return nil
    }
}
