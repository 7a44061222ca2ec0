import Foundation
import Glibc
import SkiffHTTP
import SkiffPOSIX
import SkiffTestSupport
import Synchronization
import Testing

/// `skiff serve` needs containerd; under CI=true its absence fails these tests instead of skipping them.
let daemonPartsPresent =
    ProcessInfo.processInfo.environment["CI"] == "true"
    || (getuid() == 0 && FileManager.default.fileExists(atPath: "/run/containerd/containerd.sock"))

/// A `skiff serve` process on 127.0.0.1 with its own state directory, bridge and subnet (never openfaas0), its
/// stderr read line by line.
final class DaemonProcess: Sendable {
    let state: URL
    let bridge: String
    let namespace: String
    let subnet: String
    let child: ChildProcess.Streaming
    /// Daemons of concurrent tests must not share a bridge, subnet or namespace.
    static let counter = Mutex<Int>(0)

    /// - Parameters:
    ///   - prefix: shell commands run first in the same shell (e.g. setting up a fake journald).
    ///   - binary: the skiff to run (the release tarball's, say); the one built beside the tests by default.
    ///   - arguments: more of `skiff serve`'s flags.
    init(
        environment extra: [String: String] = [:], wrapper: [String] = [], prefix: String = "",
        binary: String = skiffBinary(), replaceEnvironment: Bool = false, continuing previous: DaemonProcess? = nil,
        arguments: [String] = []
    ) throws {
        let number = Self.counter.withLock { value -> Int in
            value += 1
            return value
        }
        if let previous {
            // The same instance after a restart: its state, bridge, subnet and namespace.
            (state, bridge, namespace, subnet) = (previous.state, previous.bridge, previous.namespace, previous.subnet)
        } else {
            state = FileManager.default.temporaryDirectory.appendingPathComponent("skiff-state-\(UUID())")
            bridge = "skd\(getpid() % 10000)n\(number)"
            namespace = "skiff-daemon-test-\(getpid())-\(number)"
            subnet = "10.250.\(freeThirdOctet(10, 250, from: Int(getpid()) * 4 + number)).0/24"
        }
        var process = ChildProcess(
            wrapper.first ?? "/bin/sh",
            Array(wrapper.dropFirst()) + (wrapper.isEmpty ? [] : ["/bin/sh"]) + [
                "-c", prefix + #"exec "$0" "$@" 2>&1"#, binary, "serve", "--listen", "127.0.0.1:0", "--nats-listen",
                "127.0.0.1:0",
                "--state-dir",
                state.path, "--bridge", bridge, "--subnet", subnet, "--namespace", namespace,
                "--log-sink", "files",
            ] + arguments)
        var environment = replaceEnvironment ? [:] : ProcessInfo.processInfo.environment
        // Tests in this process set NOTIFY_SOCKET for themselves (setenv is process-wide); a daemon only talks to
        // a notify socket its own test hands it.
        for key in ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"] { environment[key] = nil }
        environment.merge(extra) { $1 }
        process.environment = environment
        child = try process.start()
    }

    /// The port from the daemon's first line (`skiff serve: listening on 127.0.0.1:PORT`).
    func port() async throws -> Int? {
        for try await line in child.lines {
            guard line.hasPrefix("skiff serve: listening on 127.0.0.1:") else { return nil }
            return line.split(separator: ":").last.flatMap { Int($0) }
        }
        return nil
    }

    /// The port from the daemon's first line, once `/healthz` answers 200 there (functions restored); a failed
    /// requirement when either does not come within a minute.
    func readyPort() async throws -> Int {
        let port = try #require(try await port())
        let ready = await eventually(timeout: .seconds(60)) {
            (try? await RawHTTP.exchange(port: port, SecurityTests.get("/healthz")).status) == 200
        }
        try #require(ready, "the daemon did not finish restoring")
        return port
    }

    /// Reads the daemon's output until a line contains `text`: that line, or nil when the daemon ends first or
    /// `timeout` passes (a failure in any case, so a timed-out read may stop the daemon).
    func line(containing text: String, timeout: Duration = .seconds(120)) async -> String? {
        let lines = child.lines
        return await first(within: timeout) {
            do {
                for try await line in lines where line.contains(text) { return line }
            } catch {}
            return nil
        }
    }

    /// SIGTERM, then whether the daemon exited with status 0.
    func terminate() async -> Bool {
        kill(child.pid, SIGTERM)
        do {
            for try await _ in child.lines {}
            return true
        } catch {
            return false
        }
    }

    /// The daemon killed, and everything it made removed (functions included).
    func cleanUp() async {
        kill(child.pid, SIGKILL)
        await removeInstance(namespace: namespace, bridge: bridge, subnet: subnet, stateDirectory: state.path)
    }
}

@Suite("skiff serve as a process", .serialized)
struct DaemonTests {
    @Test(.enabled(if: daemonPartsPresent))
    func servesHealthzNotifiesSystemdAndStopsOnSIGTERM() async throws {
        let notify = try NotifySocket()
        let daemon = try DaemonProcess(environment: [
            "NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "400000",
        ])
        guard let port = try await daemon.port() else {
            await daemon.cleanUp()
            Issue.record("the daemon did not report its listener")
            return
        }
        // READY=1 arrives once the listener answers and the runtime has reconciled with containerd.
        let ready = try await notify.receive(until: { $0.contains { $0.hasPrefix("READY=1") } })
        #expect(ready.contains { $0.hasPrefix("READY=1\nSTATUS=serving on 127.0.0.1:") })
        let client = HTTPClient(group: try EventLoopGroup(loopCount: 1))
        let (head, body) = try await client.fetch(HTTPClientRequest(url: "http://127.0.0.1:\(port)/healthz"))
        #expect(head.status.code == 200 && body.isEmpty)
        // The broker listens beside the gateway (loopback, so no auth), and /system/info says where.
        let announced = try #require(await daemon.line(containing: "skiff serve: NATS broker on 127.0.0.1:"))
        let afterHost = try #require(announced.range(of: "127.0.0.1:")).upperBound
        let natsPort = try #require(Int(announced[afterHost...].prefix(while: \.isNumber)))
        let password = try String(
            contentsOf: daemon.state.appendingPathComponent("secrets/basic-auth-password"), encoding: .utf8
        ).trimmingCharacters(in: .whitespacesAndNewlines)
        var infoRequest = try HTTPClientRequest(url: "http://127.0.0.1:\(port)/system/info")
        infoRequest.headers.add(
            name: "Authorization", value: "Basic " + Data("admin:\(password)".utf8).base64EncodedString())
        let info = try await client.fetch(infoRequest)
        #expect(
            String(decoding: info.body, as: UTF8.self).contains(
                #""nats":{"auth":"none","url":"nats://127.0.0.1:\#(natsPort)"}"#))
        let nats = try RawHTTP.connect(port: natsPort)
        defer { close(nats) }
        RawHTTP.send(nats, Array("SUB a 1\r\nPUB a 2\r\nok\r\nPING\r\n".utf8))
        #expect(
            try await RawHTTP.read(nats, untilSuffix: "PONG\r\n").text.hasSuffix(
                "+OK\r\n+OK\r\nMSG a 1 2\r\nok\r\nPONG\r\n"))
        await client.closeIdleConnections()
        // The bridge and the listener functions reach as `gateway` exist.
        #expect(FileManager.default.fileExists(atPath: "/sys/class/net/\(daemon.bridge)"))
        let hosts = try String(contentsOf: daemon.state.appendingPathComponent("etc/hosts"), encoding: .utf8)
        #expect(hosts.contains("\tgateway"))
        // Keep-alives at half of WatchdogSec (here 0.2 s).
        let pings = try await notify.receive(until: { $0.filter { $0 == "WATCHDOG=1" }.count >= 3 })
        #expect(pings.filter { $0 == "WATCHDOG=1" }.count >= 3)
        #expect(await daemon.terminate())
        let stopping = try await notify.receive(until: { $0.contains("STOPPING=1") })
        #expect(stopping.contains("STOPPING=1"))
        await daemon.cleanUp()
    }

    /// A taken port fails the start with a message that says so, before anything is created on disk.
    @Test func aTakenPortFailsBeforeTheStateDirectoryIsCreated() async throws {
        let listener = try Socket.listen(on: try #require(SocketAddress(parsing: "127.0.0.1:0")), reusePort: false)
        defer { Socket.close(listener) }
        let port = try Socket.localAddress(listener).port
        let state = FileManager.default.temporaryDirectory.appendingPathComponent("skiff-busy-\(UUID())").path
        let outcome = try await ChildProcess(
            skiffBinary(), ["serve", "--listen", "127.0.0.1:\(port)", "--nats-listen", "off", "--state-dir", state]
        ).run()
        #expect(outcome.exitCode == 1)
        #expect(outcome.errorText.contains("already in use"), "\(outcome.errorText)")
        #expect(!FileManager.default.fileExists(atPath: state))
    }

    @Test func badFlagsExitWithUsage() async throws {
        let outcome = try await ChildProcess(skiffBinary(), ["serve", "--listen", "nowhere"]).run()
        #expect(outcome.exitCode == 2)
        #expect(outcome.errorText.contains("--listen 'nowhere' is not HOST:PORT"))
    }
}
