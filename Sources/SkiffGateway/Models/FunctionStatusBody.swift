import Foundation
import SkiffAPI
import SkiffRuntime

/// A function as list and describe return it. Encoded the way Go's encoding/json with `omitempty` would
/// (empty strings, maps and slices left out), except `replicas` and `availableReplicas`, which are always
/// present, and `createdAt`, which Go never omits.
struct FunctionStatusBody: Encodable, Sendable {
    var status: FunctionStatus
    var invocationCount: Double
    var usage: Usage?

    struct Usage: Encodable, Sendable {
        var cpu: Double?
        var totalMemoryBytes: Double?
    }

    enum Key: String, CodingKey {
        case name, image, namespace, envProcess, envVars, constraints, secrets, labels, annotations, limits, requests
        case readOnlyRootFilesystem, invocationCount, replicas, availableReplicas, createdAt, usage
    }

    func encode(to encoder: any Encoder) throws {
        let definition = status.definition
        var container = encoder.container(keyedBy: Key.self)
        try container.encode(definition.name, forKey: .name)
        try container.encode(definition.image, forKey: .image)
        try container.encode(definition.namespace, forKey: .namespace)
        if let process = definition.envProcess, !process.isEmpty { try container.encode(process, forKey: .envProcess) }
        if !definition.envVars.isEmpty { try container.encode(definition.envVars, forKey: .envVars) }
        if !definition.constraints.isEmpty { try container.encode(definition.constraints, forKey: .constraints) }
        if !definition.secrets.isEmpty { try container.encode(definition.secrets, forKey: .secrets) }
        // faasd always sends these two as objects, and dashboards index into them.
        try container.encode(definition.labels, forKey: .labels)
        try container.encode(definition.annotations, forKey: .annotations)
        if let limits = definition.limits { try container.encode(FunctionResources(limits), forKey: .limits) }
        if let requests = definition.requests { try container.encode(FunctionResources(requests), forKey: .requests) }
        if definition.readOnlyRootFilesystem { try container.encode(true, forKey: .readOnlyRootFilesystem) }
        if invocationCount > 0 { try container.encode(invocationCount, forKey: .invocationCount) }
        try container.encode(status.replicas, forKey: .replicas)
        try container.encode(status.availableReplicas, forKey: .availableReplicas)
        try container.encode(GoTime.format(status.createdAt), forKey: .createdAt)
        if let usage { try container.encode(usage, forKey: .usage) }
    }
}

extension FunctionResources {
    init(_ resources: FunctionDefinition.Resources) {
        self.init(memory: resources.memory, cpu: resources.cpu)
    }
}

/// RFC 3339 with nanoseconds in UTC, as Go's time.Time marshals.
enum GoTime {
    static func format(_ date: Date) -> String {
        let seconds = date.timeIntervalSince1970.rounded(.down)
        let nanoseconds = Int(((date.timeIntervalSince1970 - seconds) * 1e9).rounded())
        var time = Int(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        var text = String(
            format: "%04d-%02d-%02dT%02d:%02d:%02d", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1,
            Int(parts.tm_mday), Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec))
        if nanoseconds > 0 {
            var fraction = String(format: "%09d", min(nanoseconds, 999_999_999))
            while fraction.hasSuffix("0") { fraction.removeLast() }
            text += "." + fraction
        }
        return text + "Z"
    }

    /// RFC 3339 (any offset, optional fraction), as Go's time.Parse(time.RFC3339, …) accepts.
    static func parse(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions = [.withInternetDateTime]
        if let date = formatter.date(from: text) { return date }
        // More than three fraction digits: drop the fraction beyond milliseconds.
        if let dot = text.firstIndex(of: "."),
            let end = text[dot...].firstIndex(where: { $0 == "Z" || $0 == "+" || $0 == "-" })
        {
            let digits = text[text.index(after: dot)..<end]
            let trimmed = text[..<dot] + "." + digits.prefix(3) + text[end...]
            formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            return formatter.date(from: String(trimmed))
        }
        return nil
    }
}
