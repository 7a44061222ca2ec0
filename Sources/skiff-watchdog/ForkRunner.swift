import Glibc
import SkiffHTTP
import SkiffPOSIX

/// Fork mode, as the classic watchdog: the whole body on the process's stdin, its stdout (and stderr with
/// `combine_output`) as the answer; 200 on exit 0, 500 with the exit status otherwise, 408 `Killed process.`
/// when `exec_timeout` ends it. The request's headers reach the process as CGI-style `Http_*` variables.
struct ForkRunner: Sendable {
    let settings: WatchdogSettings
    /// `fprocess`'s command found on PATH once, not per request.
    let executable: String?

    init(settings: WatchdogSettings) {
        self.settings = settings
        executable = ExecutableSearch.find(settings.process[0])
    }

    func respond(to request: HTTPRequest) async throws -> HTTPResponse {
        let method = request.method
        guard [.get, .post, .put, .patch, .delete].contains(method) else {
            return HTTPResponse(status: HTTPStatus(code: 405))
        }
        let started = ContinuousClock.now
        let body = try await request.body.collect(upTo: 64 * 1024 * 1024)
        guard let executable else {
            return .text(.internalServerError, "cannot find \(settings.process[0]) on PATH")
        }
        var process = ChildProcess(
            executable, Array(settings.process.dropFirst()),
            timeout: settings.execTimeout > .zero ? settings.execTimeout : .seconds(365 * 24 * 3600))
        process.killGrace = .zero
        process.standardInput =
            settings.marshalRequest ? MarshalledRequest.encode(headers: request.headers, body: body) : body
        if settings.cgiHeaders { process.environment = environment(for: request, bodyLength: body.count) }
        let outcome = try await process.run()
        var headers: HTTPHeaders = ["X-Duration-Seconds": DurationText.seconds(since: started)]
        if outcome.timedOut {
            return HTTPResponse(status: HTTPStatus(code: 408), headers: headers, body: .string("Killed process.\n"))
        }
        var output = outcome.standardOutput
        if settings.combineOutput { output += outcome.standardError }
        guard outcome.exitCode == 0 else {
            let status = outcome.exitCode.map { "exit status \($0)" } ?? "signal: \(outcome.signal ?? 0)"
            return HTTPResponse(
                status: .internalServerError, headers: headers, body: .bytes(Array((status + "\n").utf8) + output))
        }
        if let type = settings.contentType ?? request.headers["Content-Type"] {
            headers.add(name: "Content-Type", value: type)
        }
        return HTTPResponse(status: .ok, headers: headers, body: .bytes(output))
    }

    /// The watchdog's environment plus `Http_<Header>` (first value, `-` as `_`), `Http_Method`, `Http_Path`,
    /// `Http_Query`, `Http_Content_Length`, `Http_Host`.
    private func environment(for request: HTTPRequest, bodyLength: Int) -> [String: String] {
        var environment = WatchdogSettings.processEnvironment()
        for (name, value) in request.headers {
            let key = "Http_" + String(Self.canonical(name).map { $0 == "-" ? "_" : $0 })
            if environment[key] == nil { environment[key] = value }
        }
        environment["Http_Method"] = request.method.rawValue
        let length = request.headers["Content-Length"].map { _ in String(bodyLength) } ?? "-1"
        environment["Http_ContentLength"] = length
        environment["Http_Content_Length"] = length
        if !request.path.isEmpty { environment["Http_Path"] = String(request.path) }
        if let query = request.query, !query.isEmpty { environment["Http_Query"] = String(query) }
        if let host = request.headers["Host"] { environment["Http_Host"] = host }
        return environment
    }

    /// Go's canonical header form: `x-call-id` → `X-Call-Id`.
    static func canonical(_ name: String) -> String {
        name.split(separator: "-", omittingEmptySubsequences: false).map { part in
            part.prefix(1).uppercased() + part.dropFirst().lowercased()
        }.joined(separator: "-")
    }
}
