import Foundation
import SkiffAPI
import SkiffMetricsStore
import SkiffStack

/// `--metrics-scrape-config FILE`: more targets for the metrics store, in the subset of Prometheus's
/// `scrape_configs` that a single node needs, so that a job can be pasted from a `prometheus.yml`:
///
/// ```yaml
/// scrape_configs:
///   - job_name: node                 # required, unique
///     scrape_interval: 15s           # optional: a multiple of --metrics-interval (rounded up to one)
///     metrics_path: /metrics         # optional
///     basic_auth:                    # optional
///       username: lab
///       password_file: /etc/skiff/node-password    # or password: …
///     static_configs:
///       - targets: ["10.0.0.5:9100", "printer.lan:9100"]
///         labels: {room: "b12"}
/// ```
///
/// Anything else (another scheme, service discovery, relabelling) is refused with the key's name, never ignored.
struct ScrapeConfiguration {
    struct Invalid: Error, CustomStringConvertible {
        let description: String
    }

    var targets: [MetricsCollection.Target]

    static func load(path: String, roundInterval: Duration) throws -> ScrapeConfiguration {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw Invalid(description: "cannot read the scrape configuration \(path): \(error.localizedDescription)")
        }
        do {
            return try parse(text, roundInterval: roundInterval)
        } catch let error as Invalid {
            throw Invalid(description: "\(path): \(error.description)")
        } catch {
            throw Invalid(description: "\(path): \(error)")
        }
    }

    static func parse(
        _ text: String, roundInterval: Duration,
        readFile: (String) -> String? = {
            try? String(contentsOfFile: $0, encoding: .utf8)
        }
    ) throws -> ScrapeConfiguration {
        let document = try YAMLParser.parse(text)
        try allow(document, ["scrape_configs"], in: "the file")
        guard case .sequence(let jobs)? = document["scrape_configs"] else {
            throw Invalid(description: "expected `scrape_configs:` with a list of jobs")
        }
        var targets: [MetricsCollection.Target] = []
        var names = Set<String>()
        for job in jobs {
            try allow(
                job, ["job_name", "scrape_interval", "metrics_path", "scheme", "basic_auth", "static_configs"],
                in: "a job")
            guard case .scalar(let name)? = job["job_name"], !name.isEmpty else {
                throw Invalid(description: "every job needs a `job_name`")
            }
            guard names.insert(name).inserted else { throw Invalid(description: "job \(name) is given twice") }
            if let scheme = job["scheme"], scheme != .scalar("http") {
                throw Invalid(description: "job \(name): only `scheme: http` is scraped")
            }
            var path = "/metrics"
            if case .scalar(let given)? = job["metrics_path"] {
                guard given.hasPrefix("/"), !given.contains(where: { $0 == " " || $0 == "\r" || $0 == "\n" }) else {
                    throw Invalid(description: "job \(name): `metrics_path` must be a path such as /metrics")
                }
                path = given
            }
            let every = try interval(job["scrape_interval"], job: name, round: roundInterval)
            let authorization = try basicAuth(job["basic_auth"], job: name, readFile: readFile)
            guard case .sequence(let groups)? = job["static_configs"], !groups.isEmpty else {
                throw Invalid(description: "job \(name): expected `static_configs:` with `targets:`")
            }
            for group in groups {
                try allow(group, ["targets", "labels"], in: "job \(name)'s static_configs")
                guard case .sequence(let addresses)? = group["targets"], !addresses.isEmpty else {
                    throw Invalid(description: "job \(name): each static_configs entry needs `targets: [HOST:PORT, …]`")
                }
                var labels: [String: String] = [:]
                if case .mapping(let pairs)? = group["labels"] {
                    for (key, value) in pairs {
                        guard case .scalar(let text) = value, isLabelName(key), !key.hasPrefix("__") else {
                            throw Invalid(description: "job \(name): label \(key) must be a name with a text value")
                        }
                        labels[key] = text
                    }
                }
                for address in addresses {
                    guard case .scalar(let text) = address, let (host, port) = hostAndPort(text) else {
                        throw Invalid(description: "job \(name): targets are HOST:PORT, not \(address)")
                    }
                    var target = MetricsCollection.Target(
                        job: name, instance: text, labels: labels, host: host, port: port)
                    target.path = path
                    target.interval = every
                    target.authorization = authorization
                    targets.append(target)
                }
            }
        }
        return ScrapeConfiguration(targets: targets)
    }

    private static func allow(_ value: YAMLValue, _ keys: Set<String>, in place: String) throws {
        guard case .mapping(let pairs) = value else { throw Invalid(description: "expected keys in \(place)") }
        for (key, _) in pairs where !keys.contains(key) {
            throw Invalid(
                description:
                    "`\(key)` in \(place) is not read by Skiff (it reads \(keys.sorted().joined(separator: ", ")))")
        }
    }

    /// Milliseconds, a multiple of the rounds' interval; nil: every round.
    private static func interval(_ value: YAMLValue?, job: String, round: Duration) throws -> Int64? {
        guard case .scalar(let text)? = value else { return nil }
        guard let milliseconds = TimeSeriesStore.Retention.duration(text), milliseconds > 0 else {
            throw Invalid(description: "job \(job): scrape_interval must be a duration such as 15s, not \(text)")
        }
        let (seconds, attoseconds) = round.components
        let step = max(1, seconds * 1_000 + attoseconds / 1_000_000_000_000_000)
        return (milliseconds + step - 1) / step * step
    }

    private static func basicAuth(_ value: YAMLValue?, job: String, readFile: (String) -> String?) throws -> String? {
        guard let value else { return nil }
        try allow(value, ["username", "password", "password_file"], in: "job \(job)'s basic_auth")
        guard case .scalar(let user)? = value["username"], !user.contains(":") else {
            throw Invalid(description: "job \(job): basic_auth needs a `username` without a colon")
        }
        var password = ""
        if case .scalar(let given)? = value["password"] { password = given }
        if case .scalar(let file)? = value["password_file"] {
            guard let text = readFile(file) else {
                throw Invalid(description: "job \(job): cannot read the password_file \(file)")
            }
            password = text.trimmingCharacters(in: .newlines)
        }
        return "Basic " + Data("\(user):\(password)".utf8).base64EncodedString()
    }

    private static func isLabelName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first == "_" || first.properties.isAlphabetic, first.isASCII
        else { return false }
        return name.unicodeScalars.allSatisfy {
            $0.isASCII && ($0 == "_" || $0.properties.isAlphabetic || ("0"..."9").contains($0))
        }
    }

    /// `host:port` or `[v6]:port`.
    private static func hostAndPort(_ text: String) -> (String, Int)? {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
            (1...65_535).contains(port)
        else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty, !host.contains(where: { $0 == "/" || $0 == " " || $0 == "@" }) else { return nil }
        return (host, port)
    }
}
