import Foundation
import Glibc
import SkiffNATS
import SkiffPOSIX
import SkiffTestSupport
import Testing

/// A broker a test talks to over loopback: Skiff's, or Debian's nats-server as the reference whose behaviour
/// Skiff's must match (the same bytes in, the same bytes out).
protocol TestBroker: Sendable {
    var name: String { get }
    var port: Int { get }
    func stop() async
}

/// Skiff's broker on a free loopback port, on the tests' event loops.
final class SkiffBroker: TestBroker {
    let server: NATSServer
    let port: Int
    var name: String { "skiff" }

    init(_ configure: (inout NATSConfiguration) -> Void = { _ in }) async throws {
        var configuration = NATSConfiguration(addresses: [try #require(SocketAddress(host: "127.0.0.1", port: 0))])
        configure(&configuration)
        server = NATSServer(configuration: configuration, group: testGroup)
        port = try await server.start()[0].port
    }

    func stop() async { await server.shutdown() }
}

/// A broker in a process of its own, started on a port of its own choosing (`-p -1`), which it reports in its
/// log: Debian's nats-server 2.9 (the reference), or `skiff nats-server`, which takes the same flags.
final class ExternalBroker: TestBroker {
    let name: String
    let port: Int
    /// The monitoring port, when `-m -1` was given.
    let monitorPort: Int?
    let pid: pid_t
    /// Every log line after the start-up ones, for tests that wait for what the broker says.
    let log: AsyncStream<String>
    /// Ends when the broker's log does: the process is gone and its port is free.
    private let gone: Task<Void, Never>

    init(executable: String, name: String, arguments: [String]) async throws {
        guard FileManager.default.isExecutableFile(atPath: executable) else {
            throw RawHTTPError("\(executable) is not installed: run scripts/test (it installs Debian's nats-server)")
        }
        self.name = name
        let quoted = ([executable, "-a", "127.0.0.1", "-p", "-1"] + arguments).map {
            "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'"
        }
        let started = try ChildProcess("/bin/sh", ["-c", "exec \(quoted.joined(separator: " ")) 2>&1"]).start()
        pid = started.pid
        // "[1234] 2026/12/06 08:00:00.000000 [INF] Listening for client connections on 127.0.0.1:41234". The log
        // is read to its end, so that the pipe never fills.
        let (ports, found) = AsyncStream<(String, Int)>.makeStream()
        let (log, logged) = AsyncStream<String>.makeStream()
        let (ended, end) = AsyncStream<Never>.makeStream()
        self.log = log
        gone = Task { for await _ in ended {} }
        let lines = started.lines
        Task {
            // The streams end however the log does: a broker that fails to start ends it with an error.
            defer {
                found.finish()
                logged.finish()
                end.finish()
            }
            for try await line in lines {
                for marker in ["Listening for client connections on 127.0.0.1:", "Starting http monitor on 127.0.0.1:"]
                {
                    if let range = line.range(of: marker),
                        let port = Int(line[range.upperBound...].prefix(while: \.isNumber))
                    {
                        found.yield((marker, port))
                    }
                }
                if line.contains("Server is ready") { found.finish() }
                logged.yield(line)
            }
        }
        var client: Int?
        var monitor: Int?
        for await (marker, port) in ports {
            if marker.hasPrefix("Listening") { client = port } else { monitor = port }
        }
        guard let client else {
            kill(started.pid, SIGKILL)
            throw RawHTTPError("\(name) did not report its port")
        }
        port = client
        monitorPort = monitor
    }

    /// Kills the broker (`kill -9`) and returns once it is gone, so that a broker started next can take its port.
    func stop() async {
        kill(pid, SIGKILL)
        await gone.value
    }
}

/// Debian's nats-server 2.9: the reference.
enum ReferenceBroker {
    static let path = "/usr/sbin/nats-server"
    /// Present on this machine, or required (under CI a missing reference fails the differential tests).
    static let enabled = FileManager.default.isExecutableFile(atPath: path) || RealParts.isCI

    static func start(arguments: [String] = []) async throws -> ExternalBroker {
        try await ExternalBroker(executable: path, name: "nats-server", arguments: arguments)
    }
}

/// A raw client connection: bytes exactly as a test writes them.
struct RawClient: Sendable {
    let fd: Int32

    init(_ broker: any TestBroker) throws {
        fd = try RawHTTP.connect(port: broker.port)
    }

    func send(_ text: String) { RawHTTP.send(fd, Array(text.utf8)) }

    /// Reads until the bytes end with `suffix` (or the broker closes).
    /// nats-server pings every client about two seconds after it connects (to measure the round trip), so a test
    /// on a slow machine may meet a PING it did not cause: it is answered and left out, as a client library
    /// would. (Payloads in these tests never hold a line `PING`.)
    func read(until suffix: String) async throws -> String {
        let text = try await RawHTTP.read(fd, untilSuffix: suffix).text
        var lines = text.components(separatedBy: "\r\n")
        let pings = lines.dropLast().filter { $0 == "PING" }.count
        guard pings > 0 else { return text }
        for _ in 0..<pings { send("PONG\r\n") }
        var kept: [String] = []
        for (index, line) in lines.enumerated() where !(line == "PING" && index < lines.count - 1) { kept.append(line) }
        lines = kept
        return lines.joined(separator: "\r\n")
    }

    /// Reads until the broker closes the connection; `closed` is false when it did not within the bound.
    func readToClose() async throws -> (text: String, closed: Bool) {
        let answer = try await RawHTTP.readToClose(fd, timeout: .seconds(30))
        return (answer.text, answer.readError == nil || answer.readError?.contains("reset") == true)
    }

    func close() { Glibc.close(fd) }
}

/// What a transcript says once the INFO line (which differs between servers by design: ids, versions) is
/// checked and taken off.
func withoutInfo(_ text: String) -> String {
    guard text.hasPrefix("INFO {"), let end = text.range(of: "\r\n") else { return "<no INFO first> " + text }
    return String(text[end.upperBound...])
}

/// Runs `body` on Skiff's broker and then (when installed, always under CI) on nats-server, each fresh: the
/// same observations are expected of both.
func onBothBrokers(
    skiff configure: @escaping (inout NATSConfiguration) -> Void = { _ in }, reference arguments: [String] = [],
    _ body: (any TestBroker) async throws -> Void
) async throws {
    try await using(try await SkiffBroker(configure), body)
    guard ReferenceBroker.enabled else { return }
    try await using(try await ReferenceBroker.start(arguments: arguments), body)
}

/// ``onBothBrokers(skiff:reference:_:)`` with JetStream on in both, each storing in a folder of its own that is
/// removed afterwards.
func onBothBrokersWithJetStream(_ body: (any TestBroker) async throws -> Void) async throws {
    let skiffStore = FileManager.default.temporaryDirectory.appendingPathComponent("skiff-js-\(UUID())").path
    let referenceStore = FileManager.default.temporaryDirectory.appendingPathComponent("nats-js-\(UUID())").path
    defer {
        try? FileManager.default.removeItem(atPath: skiffStore)
        try? FileManager.default.removeItem(atPath: referenceStore)
    }
    let withJetStream: (inout NATSConfiguration) -> Void = { $0.jetStreamDirectory = skiffStore }
    try await onBothBrokers(skiff: withJetStream, reference: ["-js", "-sd", referenceStore], body)
}

/// Runs `body` on `broker` and stops it, whatever happens.
private func using(_ broker: any TestBroker, _ body: (any TestBroker) async throws -> Void) async throws {
    do {
        try await body(broker)
    } catch {
        await broker.stop()
        throw error
    }
    await broker.stop()
}

/// A broker configuration that requires `token`.
func requiring(token: String) -> (inout NATSConfiguration) -> Void { { $0.authorization = .token(token) } }

/// A broker configuration that requires `user` and `password`.
func requiring(user: String, password: String) -> (inout NATSConfiguration) -> Void {
    { $0.authorization = .user(user, password: password) }
}
