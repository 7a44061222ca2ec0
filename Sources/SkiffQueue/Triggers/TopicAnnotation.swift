import Foundation

/// The `topic` annotation OpenFaaS's connectors read: a comma-separated list, read the same way by the schedules
/// (`cron-function`) and the NATS subjects (every other topic).
enum TopicAnnotation {
    static let key = "topic"

    /// The topics named, trimmed, empty ones left out.
    static func topics(_ annotations: [String: String]) -> [String] {
        (annotations[key] ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter {
            !$0.isEmpty
        }
    }
}
