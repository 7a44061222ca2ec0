import Foundation
import Glibc
import SkiffAPI
import SkiffHTTP
import SkiffImage
import SkiffPOSIX
import SkiffRuntime
import SkiffTestSupport
import Synchronization
import Testing

/// The built `skiff-watchdog` binary, beside the test runner.
func watchdogBinary() -> String {
    URL(fileURLWithPath: skiffBinary()).deletingLastPathComponent().appendingPathComponent("skiff-watchdog").path
}

/// A skiff-watchdog process on a port the kernel picks (port=0; the watchdog prints the one it bound), with its
/// own TMPDIR (lock file), stopped afterwards.
final class WatchdogProcess: Sendable {
    private let boundPort = Mutex(0)
    /// Known once ``waitUntilListening()`` has seen the watchdog's first line.
    var port: Int { boundPort.withLock { $0 } }
    let metricsPort: Int
    let tmp: String
    let child: ChildProcess.Streaming

    init(_ environment: [String: String]) throws {
        metricsPort = try freePort()
        tmp = FileManager.default.temporaryDirectory.appendingPathComponent("skiff-wd-\(UUID())").path
        try FileManager.default.createDirectory(atPath: tmp, withIntermediateDirectories: true)
        var process = ChildProcess(watchdogBinary(), [])
        process.environment = [
            "PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "TMPDIR": tmp, "port": "0",
            "metrics_port": String(metricsPort),
        ]
        .merging(environment) { $1 }
        child = try process.start()
    }

    var lockExists: Bool { FileManager.default.fileExists(atPath: "\(tmp)/.lock") }

    /// Waits for the first line (`listening on …`) or the end of output; returns the lines seen.
    func waitUntilListening() async throws -> [String] {
        var lines: [String] = []
        do {
            for try await line in child.lines {
                lines.append(line)
                // "skiff-watchdog: listening on port N, MODE mode"
                if let range = line.range(of: "listening on port ") {
                    let digits = line[range.upperBound...].prefix { $0.isNumber }
                    boundPort.withLock { $0 = Int(digits) ?? 0 }
                    break
                }
            }
        } catch {
            // What the watchdog said before it exited is the reason (a port taken, a bad setting).
            throw RawHTTPError("\(error) after printing: \(lines.joined(separator: " | "))")
        }
        return lines
    }

    func call(
        _ method: HTTPMethod = .post, _ target: String = "/", body: String = "", headers: [(String, String)] = []
    ) async throws -> (status: Int, headers: HTTPHeaders, text: String) {
        let request = HTTPClientRequest(
            method: method, host: "127.0.0.1", port: port, target: target, headers: HTTPHeaders(headers),
            body: body.isEmpty ? .empty : .string(body))
        let (head, bytes) = try await testClient.fetch(request, timeout: .seconds(120))
        return (head.status.code, head.headers, String(decoding: bytes, as: UTF8.self))
    }

    /// Kills the watchdog and the processes it started (an http-mode upstream would otherwise outlive it).
    func stop() {
        for process in WatchdogTests.children(of: child.pid) { kill(process, SIGKILL) }
        kill(child.pid, SIGKILL)
        try? FileManager.default.removeItem(atPath: tmp)
    }
}

@Suite("skiff-watchdog")
struct WatchdogTests {
    @Test func forkModeAnswersLikeTheClassicWatchdog() async throws {
        let script = FileManager.default.temporaryDirectory.appendingPathComponent("skiff-wd-\(UUID()).sh").path
        try
            "#!/bin/sh\nif [ \"$Http_Query\" = fail ]; then echo oops; exit 3; fi\nif [ \"$Http_Query\" = slow ]; then sleep 600; fi\nenv | grep '^Http_' | sort\ncat\n"
            .write(toFile: script, atomically: true, encoding: .utf8)
        defer { unlink(script) }
        // Run through sh rather than exec'd: a file just written can be "text file busy" while another test's
        // child, forked at that moment, still holds the writer's descriptor.
        let watchdog = try WatchdogProcess([
            "fprocess": "sh \(script)", "exec_timeout": "1s", "healthcheck_interval": "200ms",
        ])
        defer { watchdog.stop() }
        _ = try await watchdog.waitUntilListening()
        #expect(watchdog.lockExists)
        #expect(try await watchdog.call(.get, "/_/health").status == 200)

        let echoed = try await watchdog.call(.post, "/some/path?a=1", body: "hello", headers: [("X-Call-Id", "abc")])
        #expect(echoed.status == 200 && echoed.text.hasSuffix("hello"))
        for line in [
            "Http_Method=POST", "Http_Path=/some/path", "Http_Query=a=1", "Http_X_Call_Id=abc", "Http_Content_Length=5",
        ] {
            #expect(echoed.text.contains(line), "\(line) in \(echoed.text)")
        }
        #expect(echoed.headers["X-Duration-Seconds"]?.contains(".") == true)
        let failed = try await watchdog.call(.get, "/?fail")
        #expect(failed.status == 500 && failed.text == "exit status 3\noops\n")
        let killed = try await watchdog.call(.get, "/?slow")
        #expect(killed.status == 408 && killed.text == "Killed process.\n")
        #expect(try await watchdog.call(.options, "/").status == 405)
        let (_, metrics) = try await testClient.fetch(
            HTTPClientRequest(host: "127.0.0.1", port: watchdog.metricsPort, target: "/metrics"))
        let text = String(decoding: metrics, as: UTF8.self)
        #expect(text.contains("http_requests_total{code=\"200\",method=\"POST\"} 1"))
        #expect(text.contains("http_requests_total{code=\"408\",method=\"GET\"} 1"))
        #expect(text.contains("http_requests_in_flight 0"))

        // SIGTERM: unhealthy (lock gone), then a clean exit.
        kill(watchdog.child.pid, SIGTERM)
        var rest: [String] = []
        for try await line in watchdog.child.lines { rest.append(line) }
        #expect(rest.contains { $0.contains("SIGTERM received") })
        #expect(!watchdog.lockExists)
    }

    /// The environment rows of the spec that change an answer: content_type, cgi_headers, combine_output,
    /// suppress_lock and function_process.
    @Test func environmentVariablesChangeTheAnswerAsTheSpecSays() async throws {
        let script = FileManager.default.temporaryDirectory.appendingPathComponent("skiff-wd-\(UUID()).sh").path
        try "#!/bin/sh\necho out\necho err >&2\nenv | grep -c '^Http_' || true\n"
            .write(toFile: script, atomically: true, encoding: .utf8)
        defer { unlink(script) }

        // Defaults: the request's Content-Type echoed, stderr combined into the body, Http_* present, lock written.
        let defaults = try WatchdogProcess(["fprocess": "sh \(script)"])
        defer { defaults.stop() }
        _ = try await defaults.waitUntilListening()
        let plain = try await defaults.call(.post, "/", body: "x", headers: [("Content-Type", "application/x-test")])
        #expect(plain.headers["Content-Type"] == "application/x-test")
        #expect(plain.text.contains("out\n") && plain.text.contains("err\n"))
        #expect(plain.text.split(separator: "\n").contains { (Int($0) ?? 0) > 0 }, "\(plain.text)")
        #expect(defaults.lockExists)

        // Each setting turned the other way; function_process wins over fprocess.
        let changed = try WatchdogProcess([
            "fprocess": "false", "function_process": "sh \(script)", "content_type": "application/json",
            "cgi_headers": "false", "combine_output": "false", "suppress_lock": "true",
        ])
        defer { changed.stop() }
        _ = try await changed.waitUntilListening()
        let other = try await changed.call(.post, "/", body: "x", headers: [("Content-Type", "application/x-test")])
        #expect(other.status == 200)
        #expect(other.headers["Content-Type"] == "application/json")
        #expect(other.text == "out\n0\n", "\(other.text)")
        #expect(!changed.lockExists)
        #expect(try await changed.call(.get, "/_/health").status == 200)
    }

    /// A function that never reads its stdin: writing the body hits a closed pipe, which must be an error the
    /// watchdog handles, not a SIGPIPE that ends it (it is PID 1 of the container). The old watchdog died on
    /// the first such call.
    @Test func aFunctionThatIgnoresItsBodyDoesNotKillTheWatchdog() async throws {
        let watchdog = try WatchdogProcess(["fprocess": "echo ignored", "healthcheck_interval": "0"])
        defer { watchdog.stop() }
        _ = try await watchdog.waitUntilListening()
        let body = String(repeating: "b", count: 1 << 20)  // far more than a pipe holds
        for _ in 0..<3 {
            let answer = try await watchdog.call(.post, "/", body: body)
            #expect(answer.status == 200 && answer.text == "ignored\n", "\(answer.status) \(answer.text)")
        }
        #expect(try await watchdog.call(.get, "/_/health").status == 200)
        // Each call is one line of the function's log, as OpenFaaS's watchdogs write it.
        kill(watchdog.child.pid, SIGTERM)
        var lines: [String] = []
        for try await line in watchdog.child.lines { lines.append(line) }
        let calls = lines.filter { $0.hasPrefix("POST / - 200 OK - ContentLength: 8B (") && $0.hasSuffix("s)") }
        #expect(calls.count == 3, "\(lines)")
    }

    @Test func marshalRequestWrapsHeadersAndBodyInJSON() async throws {
        let watchdog = try WatchdogProcess(["fprocess": "cat", "marshal_request": "true"])
        defer { watchdog.stop() }
        _ = try await watchdog.waitUntilListening()
        let body = "bin\u{0}ary \"quoted\"\n"
        let answer = try await watchdog.call(.post, "/", body: body, headers: [("x-custom", "a"), ("X-Custom", "b")])
        let json = try #require(try JSONSerialization.jsonObject(with: Data(answer.text.utf8)) as? [String: Any])
        let header = try #require(json["header"] as? [String: [String]])
        #expect(header["X-Custom"] == ["a", "b"])
        let raw = try #require((json["body"] as? [String: String])?["raw"])
        #expect(Data(base64Encoded: raw) == Data(body.utf8))
    }

    /// As PID 1 (its own pid namespace, as in a container), orphans the function leaves behind are reaped.
    @Test(.enabled(if: getuid() == 0 || RealParts.isCI))
    func asPID1ItReapsOrphanedZombies() async throws {
        let script = FileManager.default.temporaryDirectory.appendingPathComponent("skiff-wd-\(UUID()).sh").path
        try "#!/bin/sh\nsleep 0.2 &\necho started\n".write(toFile: script, atomically: true, encoding: .utf8)
        defer { unlink(script) }
        let port = try freePort()
        var process = ChildProcess(
            "/usr/bin/unshare",
            ["--pid", "--fork", "--kill-child", "--mount-proc", "--propagation", "private", watchdogBinary()])
        process.environment = [
            "PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "fprocess": "sh \(script)", "port": String(port),
            "metrics_port": "0", "suppress_lock": "true",
        ]
        let unshare = try process.start()
        defer { kill(unshare.pid, SIGKILL) }
        var lines = unshare.lines.makeAsyncIterator()
        while let line = try await lines.next(), !line.contains("listening on") {}
        for _ in 0..<3 {
            let (head, _) = try await testClient.fetch(
                HTTPClientRequest(method: .post, host: "127.0.0.1", port: port, target: "/"))
            #expect(head.status.code == 200)
        }
        let watchdog = try #require(Self.children(of: unshare.pid).first)
        // The three orphaned sleeps end after 0.2 s; the reaper runs every 0.5 s. Zombies that stayed would stay
        // for good, so waiting up to a minute for none tells a reaper apart from none however busy the machine.
        let reaped = await eventually(timeout: .seconds(60)) {
            Self.children(of: watchdog).allSatisfy { Self.state($0) != "Z" }
        }
        #expect(reaped, "zombies left: \(Self.children(of: watchdog).filter { Self.state($0) == "Z" })")
    }

    static func children(of parent: pid_t) -> [pid_t] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { pid_t($0) }.filter { pid in
            (try? ProcessStat.read(pid: pid))?.parent == parent
        }
    }

    static func state(_ pid: pid_t) -> String? {
        (try? ProcessStat.read(pid: pid)).map { String(UnicodeScalar($0.state)) }
    }

    /// The first call is held until the test releases it (a file it waits for), so the second one meets the limit
    /// however slowly a loaded machine runs either of them. (A `sleep 3` once ended before the second call came.)
    @Test func maxInflightAnswers429() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("skiff-hold-\(UUID())").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try "#!/bin/sh\nwhile [ ! -e \(folder)/release ]; do sleep 0.05; done\necho released\n".write(
            toFile: folder + "/hold.sh", atomically: true, encoding: .utf8)
        let watchdog = try WatchdogProcess(["fprocess": "sh \(folder)/hold.sh", "max_inflight": "1"])
        defer { watchdog.stop() }
        _ = try await watchdog.waitUntilListening()
        async let first = watchdog.call(.get, "/")
        // /_/ready says 429 while the limit is met: then the first call is surely in flight.
        #expect(await eventually(timeout: .seconds(60)) { (try? await watchdog.call(.get, "/_/ready"))?.status == 429 })
        let second = try await watchdog.call(.get, "/")
        #expect(second.status == 429 && second.headers["X-OpenFaaS-Internal"] == "faas-middleware")
        _ = FileManager.default.createFile(atPath: folder + "/release", contents: nil)
        let answer = try await first
        #expect(answer.status == 200 && answer.text == "released\n")
    }

    @Test func badSettingsStopItAtStartWithAMessage() async throws {
        for (environment, message) in [
            ([:], "fprocess"), (["fprocess": "cat", "exec_timeout": "soon"], "exec_timeout=soon"),
            (["fprocess": "cat", "mode": "afterburn"], "mode=afterburn"),
            (["fprocess": "cat", "mode": "http"], "upstream_url"),
        ] {
            var process = ChildProcess(watchdogBinary(), [])
            process.environment = ["PATH": "/usr/bin:/bin", "port": "0"].merging(environment) { $1 }
            let outcome = try await process.run()
            #expect(
                outcome.exitCode == 2 && outcome.outputText.contains(message), "\(environment): \(outcome.outputText)")
        }
    }

    /// http mode: healthy only once the upstream accepts connections; requests proxied with path and query.
    @Test func httpModeProxiesToTheLongLivedProcess() async throws {
        let upstreamPort = try freePort()
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("skiff-wd-www-\(UUID())").path
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        try "from upstream\n".write(toFile: "\(root)/page.html", atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let watchdog = try WatchdogProcess([
            "mode": "http", "fprocess": "busybox httpd -f -p 127.0.0.1:\(upstreamPort) -h \(root)",
            "upstream_url": "http://127.0.0.1:\(upstreamPort)",
        ])
        defer { watchdog.stop() }
        _ = try await watchdog.waitUntilListening()
        #expect(try await watchdog.call(.get, "/_/health").status == 200)
        let page = try await watchdog.call(.get, "/page.html?x=1")
        #expect(page.status == 200 && page.text == "from upstream\n" && page.headers["X-Duration-Seconds"] != nil)
        #expect(try await watchdog.call(.get, "/missing.html").status == 404)
    }

    /// A busybox httpd upstream with a CGI script that sleeps `?N` seconds before answering.
    func slowUpstream() async throws -> (root: String, port: Int) {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("skiff-wd-cgi-\(UUID())").path
        try FileManager.default.createDirectory(atPath: root + "/cgi-bin", withIntermediateDirectories: true)
        let script = "#!/bin/sh\nsleep \"${QUERY_STRING:-0}\"\nprintf 'Content-Type: text/plain\\r\\n\\r\\nslept\\n'\n"
        try await writeExecutable(script, to: root + "/cgi-bin/slow")
        return (root, try freePort())
    }

    @Test func httpModeTimeoutsReadinessAndFlags() async throws {
        let upstream = try await slowUpstream()
        defer { try? FileManager.default.removeItem(atPath: upstream.root) }
        let watchdog = try WatchdogProcess([
            "mode": "http", "fprocess": "busybox httpd -f -p 127.0.0.1:\(upstream.port) -h \(upstream.root)",
            "upstream_url": "http://127.0.0.1:\(upstream.port)", "exec_timeout": "2s",
        ])
        defer { watchdog.stop() }
        _ = try await watchdog.waitUntilListening()
        // /_/ready is the watchdog's in http mode: 200 once the upstream answers and the lock file exists.
        #expect(await eventually { (try? await watchdog.call(.get, "/_/ready"))?.status == 200 })
        #expect(watchdog.lockExists)
        #expect(try await watchdog.call(.post, "/_/ready").status == 405)
        let quick = try await watchdog.call(.get, "/cgi-bin/slow?0")
        #expect(quick.status == 200 && quick.text == "slept\n", "\(quick)")
        // exec_timeout bounds every call: 504 (for a call that would take two minutes, so a late timer still wins).
        #expect(try await watchdog.call(.get, "/cgi-bin/slow?120").status == 504)
        // X-Timeout shortens it for one call: under an exec_timeout longer than the client waits, only the
        // header's 300 ms can give a 504.
        let patientPort = try freePort()
        let patient = try WatchdogProcess([
            "mode": "http", "fprocess": "busybox httpd -f -p 127.0.0.1:\(patientPort) -h \(upstream.root)",
            "upstream_url": "http://127.0.0.1:\(patientPort)", "exec_timeout": "1h",
        ])
        defer { patient.stop() }
        _ = try await patient.waitUntilListening()
        #expect(await eventually { (try? await patient.call(.get, "/_/ready"))?.status == 200 })
        let shortened = try await patient.call(.get, "/cgi-bin/slow?120", headers: [("X-Timeout", "300ms")])
        #expect(shortened.status == 504)

        // The exec-probe flags of the OpenFaaS watchdogs.
        var probe = ChildProcess(watchdogBinary(), ["-run-healthcheck"])
        probe.environment = ["TMPDIR": watchdog.tmp]
        #expect(try await probe.run().succeeded)
        probe.environment = ["TMPDIR": "/nonexistent"]
        let unhealthy = try await probe.run()
        #expect(unhealthy.exitCode == 1 && unhealthy.outputText.contains("unable to find lock file."))
        let version = try await ChildProcess(watchdogBinary(), ["-version"]).run()
        #expect(version.succeeded && version.outputText.contains("skiff-watchdog"))
    }

    @Test func httpModeExitsWhenItsProcessDies() async throws {
        let upstream = try await slowUpstream()
        defer { try? FileManager.default.removeItem(atPath: upstream.root) }
        // http_upstream_url wins over upstream_url (port 9 has nothing listening).
        let watchdog = try WatchdogProcess([
            "mode": "http", "fprocess": "busybox httpd -f -p 127.0.0.1:\(upstream.port) -h \(upstream.root)",
            "upstream_url": "http://127.0.0.1:9", "http_upstream_url": "http://127.0.0.1:\(upstream.port)",
        ])
        defer { watchdog.stop() }
        _ = try await watchdog.waitUntilListening()
        #expect(await eventually { (try? await watchdog.call(.get, "/_/health"))?.status == 200 })
        #expect(try await watchdog.call(.get, "/cgi-bin/slow?0").text == "slept\n")
        // Kill the function's process (the watchdog's child): the container must end, so the watchdog exits non-zero.
        let children = try await ChildProcess("/usr/bin/pgrep", ["-P", String(watchdog.child.pid)]).run()
        let child = try #require(Int32(children.outputText.split(separator: "\n").first ?? ""))
        kill(child, SIGKILL)
        var exitedWithError = false
        var said: [String] = []
        do {
            for try await line in watchdog.child.lines { said.append(line) }
        } catch {
            exitedWithError = true
        }
        #expect(exitedWithError)
        // How the process ended, on a line of its own; not its last output as if it were the reason.
        #expect(said.contains("skiff-watchdog: the function process was killed by signal 9 (SIGKILL)"), "\(said)")
    }

    /// In fork mode nothing but the watchdog sees SIGTERM, so a call in flight runs to its end. (In http mode the
    /// long-lived process gets SIGTERM too and may end first, as with of-watchdog.)
    @Test func sigtermDrainLetsTheCallInFlightFinish() async throws {
        // The call holds until the test releases it, and says when it has started: nothing here races a clock.
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("skiff-drain-\(UUID())").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try "#!/bin/sh\ntouch \(folder)/started\nwhile [ ! -e \(folder)/release ]; do sleep 0.05; done\necho drained\n"
            .write(toFile: folder + "/hold.sh", atomically: true, encoding: .utf8)
        // The drain lasts the health-check interval: long, so that it outlasts every check below.
        let watchdog = try WatchdogProcess([
            "fprocess": "sh \(folder)/hold.sh", "healthcheck_interval": "60s", "write_timeout": "120s",
        ])
        defer { watchdog.stop() }
        _ = try await watchdog.waitUntilListening()
        #expect(await eventually { (try? await watchdog.call(.get, "/_/health"))?.status == 200 })
        async let inFlight = watchdog.call(.post, "/")
        let started = await eventually(timeout: .seconds(60)) {
            FileManager.default.fileExists(atPath: folder + "/started")
        }
        #expect(started)
        kill(watchdog.child.pid, SIGTERM)
        // Marked unhealthy at once (the lock file goes) while it still serves, until the interval has passed.
        #expect(await eventually(timeout: .seconds(60)) { !watchdog.lockExists })
        #expect(try await watchdog.call(.get, "/_/health").status == 503)
        _ = FileManager.default.createFile(atPath: folder + "/release", contents: nil)
        let answer = try await inFlight
        #expect(answer.status == 200 && answer.text == "drained\n")
    }

    /// The static binary in an image that has no libc at all (busybox-static), run by containerd: the
    /// watchdog needs nothing from its image but the function's own command.
    @Test(.enabled(if: RealParts.enabled))
    func theStaticWatchdogRunsInABusyboxImage() async throws {
        try await withRuntime { harness in
            guard let binary = FileManager.default.contents(atPath: watchdogBinary()) else {
                Issue.record("no skiff-watchdog binary at \(watchdogBinary())")
                return
            }
            let layer = try BusyboxLayer.make(files: [
                .init(path: "usr", kind: .directory), .init(path: "usr/bin", kind: .directory),
                .init(path: "usr/bin/skiff-watchdog", kind: .file(Array(binary)), mode: 0o755),
            ])
            let archive = try OCIArchive(
                reference: try ImageReference(parsing: "local/watchdog:1"),
                config: .init(env: ["PATH=/usr/bin:/bin", "fprocess=cat"], cmd: ["/usr/bin/skiff-watchdog"]),
                layers: [layer])
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("skiff-wd-\(UUID()).tar").path
            try Data(archive.bytes).write(to: URL(fileURLWithPath: file))
            defer { try? FileManager.default.removeItem(atPath: file) }
            _ = try await harness.runtime.importImage(archive: file, namespace: harness.namespace)
            try await harness.runtime.deploy(
                FunctionDefinition(name: "wd", namespace: harness.namespace, image: "local/watchdog:1"), replicas: 1)
            let endpoint = try #require(harness.runtime.endpoints(name: "wd", namespace: harness.namespace).first)
            let (head, body) = try await testClient.fetch(
                HTTPClientRequest(
                    method: .post, host: endpoint.host, port: endpoint.port, target: "/", body: .string("inside")))
            #expect(head.status.code == 200 && String(decoding: body, as: UTF8.self) == "inside")
        }
    }
}
