import Glibc
import SkiffHTTP
import SkiffPOSIX

enum WatchdogVersion {
    static let release = "0.1.0-dev"
}

/// The watchdog's environment, as the OpenFaaS watchdogs read it. Unlike them, a value that does not parse stops
/// the watchdog at start with a message naming it, instead of silently becoming a default or zero.
struct WatchdogSettings: Sendable {
    enum Mode: String, Sendable {
        /// The classic watchdog: one process per request, body on stdin, stdout as the answer.
        case fork
        /// of-watchdog's http mode: one long-lived process serving HTTP on `upstream_url`.
        case http
    }

    var mode: Mode
    var process: [String]
    var port: Int
    /// The metrics listener: 8081 as in OpenFaaS; `metrics_port` (a Skiff extension) moves it, 0 turns it off.
    var metricsPort: Int
    var upstream: (host: String, port: Int)?
    var readTimeout: Duration
    var writeTimeout: Duration
    /// 0 means none (the classic default); http mode defaults to 30 s.
    var execTimeout: Duration
    var healthcheckInterval: Duration
    var contentType: String?
    var cgiHeaders: Bool
    var combineOutput: Bool
    var marshalRequest: Bool
    var maxInflight: Int
    var suppressLock: Bool

    struct Invalid: Error, CustomStringConvertible {
        let description: String
    }

    init(environment: [String: String]) throws {
        func value(_ key: String) -> String? { environment[key].flatMap { $0.isEmpty ? nil : $0 } }
        func duration(_ key: String, _ fallback: Duration) throws -> Duration {
            guard let text = value(key) else { return fallback }
            guard let parsed = Int(text).map({ Duration.seconds($0) }) ?? Duration(goSyntax: text) else {
                throw Invalid(description: "\(key)=\(text) is not a duration; use seconds or e.g. 500ms, 30s, 1m")
            }
            // The gateway holds a function's timeouts to a day at deploy; an image's own environment is held to
            // the same, so that no sleep or deadline built from it can overflow.
            guard parsed <= .seconds(24 * 3600) else {
                throw Invalid(description: "\(key)=\(text) is longer than the 24h the watchdog accepts")
            }
            return parsed
        }
        func boolean(_ key: String, _ fallback: Bool) throws -> Bool {
            guard let text = value(key) else { return fallback }
            switch text.lowercased() {
            case "true", "1": return true
            case "false", "0": return false
            default: throw Invalid(description: "\(key)=\(text) must be true or false")
            }
        }
        func integer(_ key: String, _ fallback: Int) throws -> Int {
            guard let text = value(key) else { return fallback }
            guard let number = Int(text), number >= 0 else {
                throw Invalid(description: "\(key)=\(text) must be a whole number")
            }
            return number
        }
        switch value("mode") {
        case nil, "fork", "serializing": mode = .fork
        case "http": mode = .http
        case let other?:
            throw Invalid(description: "mode=\(other) is not supported; use http, or leave it unset for fork mode")
        }
        guard let command = value("function_process") ?? value("fprocess") else {
            throw Invalid(description: #"provide a "function_process" or "fprocess" environmental variable"#)
        }
        process = command.split(separator: " ").map(String.init)
        port = try integer("port", 8080)
        metricsPort = try integer("metrics_port", 8081)
        readTimeout = try duration("read_timeout", .seconds(30))
        writeTimeout = try duration("write_timeout", .seconds(30))
        execTimeout = try duration("exec_timeout", mode == .http ? .seconds(30) : .zero)
        healthcheckInterval = try duration("healthcheck_interval", writeTimeout)
        contentType = value("content_type")
        cgiHeaders = try boolean("cgi_headers", true)
        combineOutput = try boolean("combine_output", true)
        marshalRequest = try boolean("marshal_request", false)
        maxInflight = try integer("max_inflight", 0)
        suppressLock = try boolean("suppress_lock", false)
        if mode == .http {
            guard let url = value("http_upstream_url") ?? value("upstream_url"),
                let request = try? HTTPClientRequestTarget(url: url)
            else {
                throw Invalid(description: "http mode needs upstream_url, e.g. http://127.0.0.1:5000")
            }
            upstream = (request.host, request.port)
        }
    }

    /// `<TMPDIR or /tmp>/.lock`: present while the watchdog accepts work.
    static func lockPath() -> String {
        let directory = getenv("TMPDIR").map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        return directory + "/.lock"
    }

    static func processEnvironment() -> [String: String] {
        var result: [String: String] = [:]
        var cursor = environ
        while let entry = cursor.pointee {
            let text = String(cString: entry)
            if let equals = text.firstIndex(of: "=") {
                result[String(text[..<equals])] = String(text[text.index(after: equals)...])
            }
            cursor += 1
        }
        return result
    }
}

/// Host and port of an `http://HOST:PORT` URL.
struct HTTPClientRequestTarget {
    let host: String
    let port: Int

    init(url: String) throws {
        let request = try HTTPClientRequest(url: url)
        host = request.host
        port = request.port
    }
}

enum WatchdogLog {
    /// One line on stdout, where the platform collects function logs.
    static func line(_ text: String) {
        _ = writeAll(1, Array((text + "\n").utf8))
    }
}
