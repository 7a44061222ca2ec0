import Foundation

/// What a client's `CONNECT` asks for. Parsed leniently, as nats-server does: keys in any case, unknown keys
/// ignored. Absent fields keep nats-server's defaults, which are also what applies before any CONNECT:
/// verbose and pedantic on, echo on, protocol 0, no headers.
struct ConnectOptions: Sendable, Equatable {
    var verbose = true
    var pedantic = true
    var echo = true
    var protocolVersion = 0
    var headers = false
    var noResponders = false
    var user: String?
    var password: String?
    var token: String?
    var name: String?
    var lang: String?
    var version: String?

    /// Nil when the JSON cannot be read (the connection is then closed without a word).
    init?(json: UnsafeBufferPointer<UInt8>) {
        guard !json.isEmpty,
            let object = try? JSONSerialization.jsonObject(with: Data(buffer: json)) as? [String: Any]
        else { return nil }
        var fields: [String: Any] = [:]
        for (key, value) in object { fields[key.lowercased()] = value }
        func flag(_ key: String, _ fallback: Bool) -> Bool { (fields[key] as? Bool) ?? fallback }
        func text(_ key: String) -> String? { fields[key] as? String }
        verbose = flag("verbose", true)
        pedantic = flag("pedantic", true)
        echo = flag("echo", true)
        headers = flag("headers", false)
        noResponders = flag("no_responders", false)
        if let number = (fields["protocol"] as? Int) ?? (fields["protocol"] as? NSNumber)?.intValue {
            protocolVersion = number
        }
        user = text("user")
        password = text("pass")
        token = text("auth_token")
        name = text("name")
        lang = text("lang")
        version = text("version")
    }

    init() {}

    /// Whether the bytes hold a JSON object (what an INFO from a client must carry to be ignored quietly).
    static func isJSONObject(_ json: UnsafeBufferPointer<UInt8>) -> Bool {
        guard !json.isEmpty else { return false }
        return (try? JSONSerialization.jsonObject(with: Data(buffer: json))) is [String: Any]
    }
}
