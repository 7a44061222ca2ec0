import Foundation
import SkiffAPI
import SkiffHTTP
import SkiffPOSIX

/// The OpenFaaS gateway API as the skiff CLI calls it: the same requests faas-cli makes, with the answers
/// decoded into ``SkiffAPI`` types and every failure turned into a ``GatewayError`` that says what to do.
public struct GatewayClient: Sendable {
    public let gateway: String
    public let credentials: BasicCredentials?
    private let http: HTTPClient
    private let base: HTTPClientRequest

    public init(gateway: String, credentials: BasicCredentials?, http: HTTPClient) throws {
        var url = gateway
        while url.hasSuffix("/") { url.removeLast() }
        guard let base = try? HTTPClientRequest(url: url + "/") else {
            throw GatewayError(
                status: nil, message: "\(gateway) is not an http:// URL; pass --gateway http://HOST:PORT")
        }
        self.gateway = url
        self.credentials = credentials
        self.http = http
        self.base = base
    }

    // MARK: Requests

    /// One exchange with the whole answer collected. `authenticated` adds the Basic credentials.
    public func send(
        _ method: HTTPMethod, _ target: String, json body: (some Encodable)? = String?.none,
        authenticated: Bool = true, timeout: Duration? = .seconds(120)
    ) async throws -> (status: Int, body: [UInt8]) {
        var headers = HTTPHeaders()
        headers.add(name: "User-Agent", value: "skiff/cli")
        if authenticated, let credentials { headers.add(name: "Authorization", value: credentials.header) }
        var payload = HTTPBody.empty
        if let body {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            payload = .bytes(Array(try encoder.encode(body)))
            headers.add(name: "Content-Type", value: "application/json")
        }
        let request = HTTPClientRequest(
            method: method, host: base.host, port: base.port, target: target, headers: headers, body: payload)
        let answer: (head: HTTPResponseHead, body: [UInt8])
        do {
            answer = try await http.fetch(request, timeout: timeout)
        } catch {
            throw GatewayError(
                status: nil,
                message: "cannot reach the gateway at \(gateway) (\(error)); is skiff serve running? "
                    + "Set --gateway or OPENFAAS_URL")
        }
        return (Int(answer.head.status.code), answer.body)
    }

    /// Like ``send(_:_:json:authenticated:timeout:)``, but any status outside `accepted` is an error.
    @discardableResult
    public func call(
        _ method: HTTPMethod, _ target: String, json body: (some Encodable)? = String?.none,
        accepted: Set<Int> = [200, 201, 202, 204], what: String
    ) async throws -> [UInt8] {
        let answer = try await send(method, target, json: body)
        guard accepted.contains(answer.status) else { throw GatewayError(answer.status, answer.body, what: what) }
        return answer.body
    }

    private func decode<T: Decodable>(_ type: T.Type, _ bytes: [UInt8], what: String) throws -> T {
        do {
            return try JSONDecoder().decode(type, from: Data(bytes))
        } catch {
            throw GatewayError(
                status: nil, message: "the gateway's answer to \(what) is not what Skiff expects: \(error)")
        }
    }

    static func query(_ items: [(String, String?)]) -> String {
        let present = items.compactMap { key, value in value.map { "\(key)=\(Self.escape($0))" } }
        return present.isEmpty ? "" : "?" + present.joined(separator: "&")
    }

    static func escape(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .urlQueryValueAllowed) ?? text
    }

    // MARK: Functions

    /// GET /system/functions as the gateway answered it (for `list --json`).
    public func functionsBody(namespace: String?) async throws -> [UInt8] {
        try await call(.get, "/system/functions" + Self.query([("namespace", namespace)]), what: "list functions")
    }

    public func functions(namespace: String?) async throws -> [FunctionSummary] {
        try decode([FunctionSummary]?.self, try await functionsBody(namespace: namespace), what: "list functions")
            ?? []
    }

    // MARK: Queue

    /// GET /system/queue as the gateway answered it (for `queue --json`).
    public func queueBody() async throws -> [UInt8] {
        try await call(.get, "/system/queue", what: "show the queue")
    }

    public func queue() async throws -> QueueSummary {
        try decode(QueueSummary.self, try await queueBody(), what: "show the queue")
    }

    /// POST /system/queue/retry: one dead call (`callID`) or all of them (nil); how many were queued again.
    public func retryDeadCalls(callID: String?) async throws -> Int {
        let request = QueueRetryRequest(callId: callID, allDead: callID == nil ? true : nil)
        let what = callID.map { "retry the dead call \($0)" } ?? "retry the dead calls"
        return try decode(
            QueueChange.self, try await call(.post, "/system/queue/retry", json: request, what: what), what: what
        )
        .calls
    }

    /// POST /system/queue/purge: removes a function's calls that the worker has not taken yet; how many.
    public func purgeQueue(function: String, namespace: String?) async throws -> Int {
        let request = QueuePurgeRequest(functionName: function, namespace: namespace)
        let what = "purge the queued calls of \(function)"
        return try decode(
            QueueChange.self, try await call(.post, "/system/queue/purge", json: request, what: what), what: what
        )
        .calls
    }

    /// GET /system/images as the gateway answered it (for `images --json`).
    public func imagesBody(namespace: String?) async throws -> [UInt8] {
        try await call(.get, "/system/images" + Self.query([("namespace", namespace)]), what: "list images")
    }

    public func images(namespace: String?) async throws -> [ImageSummary] {
        try decode([ImageSummary].self, try await imagesBody(namespace: namespace), what: "list images")
    }

    /// POST /system/images/prune: removes the namespace's images that no function uses.
    public func pruneImagesBody(namespace: String?) async throws -> [UInt8] {
        try await call(
            .post, "/system/images/prune" + Self.query([("namespace", namespace)]), what: "prune images")
    }

    public func pruneImages(namespace: String?) async throws -> ImagePruneSummary {
        try decode(ImagePruneSummary.self, try await pruneImagesBody(namespace: namespace), what: "prune images")
    }

    /// GET /system/function/NAME as the gateway answered it (for `describe --json`).
    public func functionBody(_ name: String, namespace: String?) async throws -> [UInt8] {
        try await call(
            .get, "/system/function/\(name)" + Self.query([("namespace", namespace), ("usage", "1")]),
            accepted: [200], what: "describe \(name)")
    }

    public func function(_ name: String, namespace: String?) async throws -> FunctionSummary {
        try decode(FunctionSummary.self, try await functionBody(name, namespace: namespace), what: "describe \(name)")
    }

    public enum DeployOutcome: Sendable {
        case created
        case updated
    }

    /// PUT first (a rolling update); POST when the gateway says the function does not exist yet — as faas-cli.
    public func deploy(_ deployment: FunctionDeployment) async throws -> DeployOutcome {
        let update = try await send(.put, "/system/functions", json: deployment, timeout: .seconds(600))
        if update.status == 200 || update.status == 202 { return .updated }
        guard update.status == 404 else {
            throw GatewayError(update.status, update.body, what: "deploy \(deployment.function.name)")
        }
        try await call(
            .post, "/system/functions", json: deployment, accepted: [200, 202],
            what: "deploy \(deployment.function.name)")
        return .created
    }

    public func remove(_ name: String, namespace: String?) async throws {
        try await call(
            .delete, "/system/functions", json: DeleteFunctionRequest(functionName: name, namespace: namespace),
            what: "remove \(name)")
    }

    public func scale(_ name: String, replicas: Int, namespace: String?) async throws {
        try await call(
            .post, "/system/scale-function/\(name)" + Self.query([("namespace", namespace)]),
            json: ScaleServiceRequest(serviceName: name, replicas: replicas, namespace: namespace),
            what: "scale \(name)")
    }

    // MARK: Secrets and namespaces

    public func secrets(namespace: String?) async throws -> [SecretListItem] {
        let body = try await call(
            .get, "/system/secrets" + Self.query([("namespace", namespace)]), what: "list secrets")
        return try decode([SecretListItem]?.self, body, what: "list secrets") ?? []
    }

    /// Creates the secret, or with `replace` updates it when it exists.
    public func createSecret(_ secret: SecretBody, replace: Bool) async throws {
        let answer = try await send(.post, "/system/secrets", json: secret)
        if [200, 201, 202].contains(answer.status) { return }
        if answer.status == 409 && replace {
            try await call(.put, "/system/secrets", json: secret, what: "update secret \(secret.name ?? "")")
            return
        }
        throw GatewayError(answer.status, answer.body, what: "create secret \(secret.name ?? "")")
    }

    public func removeSecret(_ name: String, namespace: String?) async throws {
        try await call(
            .delete, "/system/secrets", json: SecretBody(name: name, namespace: namespace),
            what: "remove secret \(name)")
    }

    public func namespaces() async throws -> [String] {
        let body = try await call(.get, "/system/namespaces", what: "list namespaces")
        return try decode([String]?.self, body, what: "list namespaces") ?? []
    }

    /// nil when the gateway has no /system/info (faas-cli accepts that too).
    public func info() async throws -> GatewayInfo? {
        let answer = try await send(.get, "/system/info", timeout: .seconds(5))
        if answer.status == 404 { return nil }
        guard answer.status == 200 else { throw GatewayError(answer.status, answer.body, what: "read the version") }
        return try decode(GatewayInfo.self, answer.body, what: "read the version")
    }

    // MARK: Streams

    /// GET /system/logs as a stream of entries, one per NDJSON line.
    public func logs(
        _ name: String, namespace: String?, follow: Bool, tail: Int?, since: String?
    ) async throws -> AsyncThrowingStream<LogMessage, any Error> {
        let target =
            "/system/logs"
            + Self.query([
                ("name", name), ("namespace", namespace), ("follow", follow ? "true" : "false"),
                ("tail", tail.map(String.init)), ("since", since),
            ])
        var headers = HTTPHeaders()
        if let credentials { headers.add(name: "Authorization", value: credentials.header) }
        let request = HTTPClientRequest(
            method: .get, host: base.host, port: base.port, target: target, headers: headers)
        let response = try await execute(request, timeout: nil)
        guard response.status.code == 200 else {
            let body = try await response.body.collect(upTo: 64 * 1024)
            throw GatewayError(Int(response.status.code), body, what: "read the logs of \(name)")
        }
        return AsyncThrowingStream { continuation in
            let task = Task {
                var pending: [UInt8] = []
                do {
                    for try await chunk in response.body {
                        pending += chunk
                        while let newline = pending.firstIndex(of: 0x0A) {
                            let line = Array(pending[..<newline])
                            pending.removeSubrange(...newline)
                            if let message = try? JSONDecoder().decode(LogMessage.self, from: Data(line)) {
                                continuation.yield(message)
                            }
                        }
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    /// An invocation: `/function/NAME[.NAMESPACE][/path]` (or `/async-function/…`), streamed both ways.
    public func invoke(
        _ name: String, namespace: String?, async isAsync: Bool, method: HTTPMethod, path: String,
        query: [(String, String)], headers extra: [(String, String)], body: HTTPBody
    ) async throws -> HTTPClientResponse {
        var target = (isAsync ? "/async-function/" : "/function/") + name + (namespace.map { ".\($0)" } ?? "")
        if !path.isEmpty { target += path.hasPrefix("/") ? path : "/" + path }
        let sortedQuery = query.sorted { $0.0 < $1.0 }
        if !sortedQuery.isEmpty {
            target += "?" + sortedQuery.map { "\(Self.escape($0.0))=\(Self.escape($0.1))" }.joined(separator: "&")
        }
        var headers = HTTPHeaders()
        headers.add(name: "User-Agent", value: "skiff/cli")
        if !extra.contains(where: { $0.0.lowercased() == "content-type" }) {
            headers.add(name: "Content-Type", value: "text/plain")
        }
        for (key, value) in extra { headers.add(name: key, value: value) }
        let request = HTTPClientRequest(
            method: method, host: base.host, port: base.port, target: target, headers: headers, body: body)
        return try await execute(request, timeout: nil)
    }

    private func execute(_ request: HTTPClientRequest, timeout: Duration?) async throws -> HTTPClientResponse {
        do {
            return try await http.execute(request, timeout: timeout)
        } catch {
            throw GatewayError(
                status: nil, message: "cannot reach the gateway at \(gateway) (\(error)); is skiff serve running?")
        }
    }
}

extension CharacterSet {
    /// Unreserved characters only, so `&`, `=` and `+` inside values survive the trip.
    fileprivate static let urlQueryValueAllowed = CharacterSet(
        charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
}

/// A failed call: the HTTP status (nil when the gateway could not be reached) and a message for people.
public struct GatewayError: Error, CustomStringConvertible {
    public let status: Int?
    public let message: String
    public var description: String { message }

    public init(status: Int?, message: String) {
        self.status = status
        self.message = message
    }

    init(_ status: Int, _ body: [UInt8], what: String) {
        self.status = status
        let said = String(decoding: body.prefix(2000), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        switch status {
        case 401:
            message =
                "cannot \(what): unauthorized; run `skiff login --password-stdin` (the password is in "
                + "/var/lib/skiff/secrets/basic-auth-password on the gateway's machine)"
        case 404:
            message =
                "cannot \(what): not found" + (said.isEmpty ? "" : " (\(said))")
                + "; `skiff list` shows what exists (add -n NS for another namespace)"
        default:
            message = "cannot \(what): the gateway answered \(status)" + (said.isEmpty ? "" : ": \(said)")
        }
    }
}
