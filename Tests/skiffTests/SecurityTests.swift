import Foundation
import Glibc
import SkiffPOSIX
import SkiffTestSupport
import Synchronization
import Testing

/// Attacks on a real `skiff serve`, as an unauthenticated caller on the LAN would make them: raw bytes on a
/// socket, every target shape, values chosen to overflow. Each expectation names what must never happen.
@Suite("Security: a real daemon under attack", .serialized)
struct SecurityTests {
    /// Admin routes and the methods they answer; `{n}` is a function name.
    static let adminRoutes: [(method: String, path: String)] = [
        ("GET", "system/functions"), ("POST", "system/functions"), ("PUT", "system/functions"),
        ("DELETE", "system/functions"), ("GET", "system/function/victim"), ("POST", "system/scale-function/victim"),
        ("GET", "system/secrets"), ("POST", "system/secrets"), ("PUT", "system/secrets"),
        ("DELETE", "system/secrets"), ("GET", "system/info"), ("GET", "system/namespaces"),
        ("GET", "system/logs?name=victim"), ("GET", "function/victim"), ("POST", "async-function/victim"),
        ("GET", "system/images"), ("POST", "system/images/prune"),
    ]

    /// Every way of spelling a target that once reached, or might reach, a route without its check.
    static func shapes(of path: String) -> [String] {
        let (first, rest) = path.firstIndex(of: "/").map { (String(path[..<$0]), String(path[$0...])) } ?? (path, "")
        return [
            "x" + path, "//" + path, "/./" + path, "/function/../" + path, "/a/%2e%2e/" + path, "/%2E/" + path,
            "/" + first + "%2F" + rest.dropFirst(), "/" + path.uppercased(), "/" + first.uppercased() + rest,
            "http://127.0.0.1" + "/" + path, "HTTP://evil.example/" + path, "http:///" + path, "*",
            "/" + path + "#x", "/" + path + "\u{0}", "/" + path + " x", path, "/" + path + "/..",
        ]
    }

    @Test(.enabled(if: daemonPartsPresent))
    func adminAndInvokeRoutesRefuseEveryTargetShapeWithoutCredentials() async throws {
        try await withDaemon(environment: ["SKIFF_AUTH_INVOKE": "true"]) { daemon, port in
            let body = #"{"service":"victim","image":"local/none:1","name":"victim","value":"x","replicas":3}"#
            var tried = 0
            for route in Self.adminRoutes {
                for target in Self.shapes(of: route.path) {
                    for method in [route.method, "HEAD", "OPTIONS"] {
                        let request =
                            "\(method) \(target) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                            + "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
                        let answer = try await RawHTTP.exchange(port: port, request)
                        let said =
                            "\(method) \(target.debugDescription) answered \(answer.text.prefix(120).debugDescription)"
                        let error = answer.readError ?? "none"
                        #expect([400, 401, 404].contains(answer.status), "\(said) (read error: \(error))")
                        tried += 1
                    }
                }
            }
            #expect(tried > 700)
            // Nothing changed: the daemon serves, and with credentials it shows no function and no secret.
            let admin = try AdminClient(daemon: daemon, port: port)
            #expect(try await admin.call("GET", "/system/functions").body == "[]")
            #expect(try await admin.call("GET", "/system/secrets").body == "[]")
            // The absolute form is served as its path, with credentials.
            #expect(try await admin.call("GET", "http://127.0.0.1/system/functions").status == 200)
        }
    }

    @Test(.enabled(if: daemonPartsPresent))
    func passwordsAreComparedOverTheirFullLength() async throws {
        try await withDaemon { daemon, port in
            let admin = try AdminClient(daemon: daemon, port: port)
            let first = try await admin.call("GET", "/system/functions")
            #expect(first.status == 200, "\(first.text)")
            for suffix in [
                String(repeating: "\u{0}", count: 256), "\u{0}", "x", String(repeating: "\u{0}", count: 512),
            ] {
                let forged = AdminClient(port: port, user: admin.user, password: admin.password + suffix)
                #expect(try await forged.call("GET", "/system/functions").status == 401, "suffix of \(suffix.count)")
            }
            let truncated = AdminClient(port: port, user: admin.user, password: String(admin.password.dropLast()))
            #expect(try await truncated.call("GET", "/system/functions").status == 401)
        }
    }

    @Test(.enabled(if: daemonPartsPresent))
    func functionsNeverSeeAdminCredentialsAndRefusedRequestsChangeNothing() async throws {
        try await withDaemon { daemon, port in
            let admin = try AdminClient(daemon: daemon, port: port)
            try await importTestImage("docker.io/local/sec:1", namespace: daemon.namespace)
            func deploy(_ name: String, _ extra: String = "") async throws -> RawHTTP.Answer {
                try await admin.call(
                    "POST", "/system/functions",
                    json: #"{"service":"\#(name)","image":"local/sec:1","namespace":"\#(daemon.namespace)"\#(extra)}"#)
            }

            // A call made before the function exists must not pin the default timeout for it.
            #expect(try await RawHTTP.exchange(port: port, Self.get("/function/probe/cgi-bin/info?slow")).status == 404)
            #expect(try await deploy("probe", #","envVars":{"exec_timeout":"1s"}"#).status == 200)
            // A call that never answers: the 1 s timeout fires however late a busy machine runs it.
            let slow = try await RawHTTP.exchange(port: port, Self.get("/function/probe/cgi-bin/info?hold"))
            #expect(slow.status == 504, "\(slow.text)")

            // The admin's credentials are consumed by the gateway, never handed to the function; a function's own
            // token passes through. (busybox httpd keeps any Basic header out of the CGI environment, so the first
            // check cannot tell on its own; CredentialConsumptionTests checks the layer that removes it.)
            let seen = try await RawHTTP.exchange(
                port: port, Self.get("/function/probe/cgi-bin/info?headers", ["Authorization": admin.header]))
            #expect(seen.status == 200 && !seen.text.contains("HTTP_AUTHORIZATION"), "\(seen.text)")
            let own = try await RawHTTP.exchange(
                port: port, Self.get("/function/probe/cgi-bin/info?headers", ["Authorization": "Bearer own-token"]))
            #expect(own.text.contains("HTTP_AUTHORIZATION=Bearer own-token"), "\(own.text)")

            // Values that once trapped the daemon or the watchdog are refused at deploy, naming the field; nothing
            // is left behind.
            for (extra, field) in [
                (#","envVars":{"exec_timeout":"6000000h"}"#, "exec_timeout"),
                (#","envVars":{"grace_period":"99999999999999999h"}"#, "grace_period"),
                (#","envVars":{"write_timeout":"99999999999999999999h"}"#, "write_timeout"),
                (#","labels":{"com.openfaas.scale.min":"100000"}"#, "com.openfaas.scale.min"),
                (#","labels":{"com.openfaas.pids":"0"}"#, "com.openfaas.pids"),
            ] {
                let refused = try await deploy("bad", extra)
                #expect(refused.status == 400 && refused.text.contains(field), "\(refused.text)")
            }
            let listed = try await admin.call("GET", "/system/functions?namespace=\(daemon.namespace)")
            #expect(!listed.text.contains(#""bad""#), "\(listed.text)")

            // A scale beyond --max-replicas is refused and the recorded count stays.
            let scale = try await admin.call(
                "POST", "/system/scale-function/probe?namespace=\(daemon.namespace)", json: #"{"replicas":100000}"#)
            #expect(scale.status == 400 && scale.text.contains("--max-replicas"), "\(scale.text)")
            let described = try await admin.call("GET", "/system/function/probe?namespace=\(daemon.namespace)")
            #expect(described.text.contains(#""replicas":1"#), "\(described.text)")

            // A huge X-Timeout is ignored, not a crash; the daemon still answers afterwards.
            let huge = try await RawHTTP.exchange(
                port: port, Self.get("/function/probe/", ["X-Timeout": "99999999999999999999h"]))
            #expect(huge.status == 200)
            #expect(try await RawHTTP.exchange(port: port, Self.get("/healthz")).status == 200)
            #expect(
                try await admin.call("DELETE", "/system/functions", json: #"{"functionName":"probe"}"#).status == 200)
        }
    }

    @Test(.enabled(if: daemonPartsPresent))
    func unauthenticatedLoadNeitherForksNorBuffersWithoutBound() async throws {
        try await withDaemon { daemon, port in
            let admin = try AdminClient(daemon: daemon, port: port)
            try await admin.deployTestFunction("slow", namespace: daemon.namespace)
            let pid = daemon.child.pid

            // 3,000 scrapes of /metrics, pipelined on four connections: no `ctr` is ever started for them, and the
            // daemon's threads stay as they were.
            let threadsBefore = ProcessStatus.field("Threads", pid: pid)
            #expect(threadsBefore > 0)
            let scrape = Array(Self.get("/metrics").replacingOccurrences(of: "Connection: close\r\n", with: "").utf8)
            let sawCtr = Mutex(false)
            let watcher = Task.detached {
                while !Task.isCancelled {
                    // The runtime's one long-lived `ctr events` is its own; anything else would be the scrapes'.
                    let spawned = ProcessStatus.children(of: pid).filter {
                        $0.first?.hasSuffix("ctr") == true && !$0.contains("events")
                    }
                    if !spawned.isEmpty { sawCtr.withLock { $0 = true } }
                    try? await Task.sleep(for: .milliseconds(2))
                }
            }
            try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<4 {
                    group.addTask {
                        var batch: [UInt8] = []
                        for _ in 0..<749 { batch += scrape }
                        batch += Array(Self.get("/metrics").utf8)
                        let answer = try await RawHTTP.exchange(port: port, batch, timeout: .seconds(60))
                        return answer.text.components(separatedBy: "HTTP/1.1 200 OK").count - 1
                    }
                }
                var answered = 0
                for try await count in group { answered += count }
                #expect(answered == 3000)
            }
            watcher.cancel()
            #expect(!sawCtr.withLock { $0 }, "a scrape started ctr")
            let threadsAfter = ProcessStatus.field("Threads", pid: pid)
            #expect(threadsAfter <= threadsBefore + 2, "threads \(threadsBefore) → \(threadsAfter)")

            // 50,000 requests pipelined behind a call that never answers, on a connection that never reads: the daemon
            // stops reading after one head's worth, so the sender blocks and the daemon's memory stays put.
            #expect(try await RawHTTP.exchange(port: port, Self.get("/function/slow/")).status == 200)
            let residentBefore = ProcessStatus.field("VmRSS", pid: pid)
            #expect(residentBefore > 0)
            let padding = String(repeating: "p", count: 1000)
            let request = Array(
                "GET /function/slow/cgi-bin/info?hold HTTP/1.1\r\nHost: x\r\nX-Pad: \(padding)\r\n\r\n".utf8)
            let total = 50_000 * request.count
            let sent = try await RawHTTP.sendUntilBlocked(port: port, request, times: 50_000, stallAfter: .seconds(2))
            let residentAfter = ProcessStatus.field("VmRSS", pid: pid)
            #expect(sent.bytes < total / 4, "the daemon read \(sent.bytes) of \(total) bytes it could not answer yet")
            #expect(residentAfter - residentBefore < 6 * 1024, "RSS \(residentBefore) kB → \(residentAfter) kB")
            close(sent.fd)
            #expect(try await RawHTTP.exchange(port: port, Self.get("/healthz")).status == 200)
        }
    }

    /// A host on the LAN, simulated by a network namespace of its own with a route to the functions' subnet via
    /// this machine (as a student's laptop could add): it reaches neither a replica directly nor the gateway's
    /// listener on the bridge address.
    @Test(.enabled(if: daemonPartsPresent))
    func aLANHostReachesNeitherReplicasNorTheBridgeListener() async throws {
        try await withDaemon { daemon, port in
            let admin = try AdminClient(daemon: daemon, port: port)
            try await admin.deployTestFunction("inner", namespace: daemon.namespace)
            let ipam = daemon.state.appendingPathComponent("cni/ipam/skiff-\(daemon.bridge)").path
            let replica = try #require(
                (try FileManager.default.contentsOfDirectory(atPath: ipam)).first {
                    $0.split(separator: ".").count == 4
                })
            let octets = daemon.subnet.split(separator: "/")[0].split(separator: ".")
            let bridgeAddress = "\(octets[0]).\(octets[1]).\(octets[2]).1"

            let lan = try await LANHost(routeTo: daemon.subnet)
            do {
                // Routing works: the LAN host reaches this machine's bridge address.
                #expect(try await lan.run(["/bin/busybox", "ping", "-c", "1", "-W", "3", bridgeAddress]).succeeded)
                // …but neither the replica's watchdog port nor the gateway listener on the bridge answers it.
                let direct = try await lan.fetch("http://\(replica):8080/", expecting: .nothing)
                #expect(!direct.succeeded, "a LAN host reached replica \(replica) directly: \(direct.outputText)")
                let gateway = try await lan.fetch("http://\(bridgeAddress):8080/healthz", expecting: .nothing)
                #expect(!gateway.succeeded, "a LAN host reached the bridge listener: \(gateway.outputText)")
                // The drop is what stops it: without Skiff's rule the replica answers (as it did before).
                let chain = "SKIFF-ISO-\(daemon.bridge)"
                _ = try await ChildProcess("/usr/sbin/iptables", ["-w", "-D", "FORWARD", "-j", chain]).runChecked()
                let exposed = try await lan.fetch("http://\(replica):8080/", expecting: .answer)
                #expect(exposed.succeeded && exposed.outputText.contains("hello from skiff"), "\(exposed.errorText)")
            } catch {
                await lan.remove()
                throw error
            }
            await lan.remove()
        }
    }

    /// Under `ulimit -n 256`, 400 idle connections: the daemon neither spins nor mistakes its own lack of
    /// descriptors for replicas exiting, and serves again once the connections close.
    @Test(.enabled(if: daemonPartsPresent))
    func runningOutOfDescriptorsNeitherSpinsNorRestartsReplicas() async throws {
        try await withDaemon(prefix: "ulimit -n 256; ") { daemon, port in
            let pid = daemon.child.pid
            #expect(ProcessStatus.openFilesLimit(pid: pid) == 256)
            let admin = try AdminClient(daemon: daemon, port: port)
            try await admin.deployTestFunction("steady", namespace: daemon.namespace)
            func taskPID() async throws -> String {
                let tasks = try await ChildProcess("/usr/bin/ctr", ["-n", daemon.namespace, "tasks", "ls"]).runChecked()
                return tasks.outputText.split(separator: "\n").first { $0.hasPrefix("steady-") }
                    .map { String($0.split(separator: " ", omittingEmptySubsequences: true)[1]) } ?? ""
            }
            let before = try await taskPID()
            #expect(!before.isEmpty)

            // These 400 sockets live in the test process, beside every other test's: raised like the daemon's
            // own limit, so that a neighbour does not run out of descriptors because of them.
            _ = ResourceLimits.raiseOpenFiles()
            var connections: [Int32] = []
            for _ in 0..<400 {
                if let fd = try? RawHTTP.connect(port: port) { connections.append(fd) }
            }
            // Ten seconds with the connections held: the daemon's CPU time over them (from /proc) stays under 5%
            // of one core. Spinning on a listener it cannot accept from costs the whole core.
            let cpuBefore = ProcessStatus.cpuTicks(pid: pid)
            try await Task.sleep(for: .seconds(10))
            let cpuUsed = ProcessStatus.cpuTicks(pid: pid) - cpuBefore
            let ticksPerSecond = Int(sysconf(Int32(_SC_CLK_TCK)))
            #expect(cpuUsed < ticksPerSecond / 2, "the daemon used \(cpuUsed) ticks in 10 s")
            #expect(try await taskPID() == before, "the replica was restarted")
            for fd in connections { close(fd) }
            let serving = await eventually(timeout: .seconds(30)) {
                (try? await RawHTTP.exchange(port: port, Self.get("/healthz")).status) == 200
            }
            #expect(serving)
            #expect(try await RawHTTP.exchange(port: port, Self.get("/function/steady/")).status == 200)
        }
    }

    /// Restarted with 20 functions, the daemon never acts as if it had none: while it restores, a list is 503
    /// (Retry-After) or complete, a deploy of an existing name is 503 or 409 (never a create that the restore
    /// would then destroy), and an invocation waits for its function instead of answering 404.
    @Test(.enabled(if: daemonPartsPresent))
    func whileRestoringTheAPINeverPretendsFunctionsAreGone() async throws {
        let first = try DaemonProcess()
        var second: DaemonProcess?
        do {
            let port = try #require(try await first.port())
            let up = await eventually(timeout: .seconds(60)) {
                (try? await RawHTTP.exchange(port: port, Self.get("/healthz")).status) == 200
            }
            try #require(up)
            let admin = try AdminClient(daemon: first, port: port)
            try await importTestImage("docker.io/local/many:1", namespace: first.namespace)
            let names = (0..<20).map { "fn-\($0)" }
            for name in names {
                let body = #"{"service":"\#(name)","image":"local/many:1","namespace":"\#(first.namespace)"}"#
                let deployed = try await admin.call("POST", "/system/functions", json: body)
                #expect(deployed.status == 200, "\(deployed.text)")
            }
            // A crash of the daemon: the functions keep running in containerd, the new daemon restores them.
            kill(first.child.pid, SIGKILL)
            let restarted = try DaemonProcess(continuing: first)
            second = restarted
            let newPort = try #require(try await restarted.port())
            let newAdmin = AdminClient(port: newPort, user: admin.user, password: admin.password)
            let redeploy = #"{"service":"fn-3","image":"local/many:1","namespace":"\#(first.namespace)"}"#
            async let listed = newAdmin.call("GET", "/system/functions")
            async let deployed = newAdmin.call("POST", "/system/functions", json: redeploy)
            // The call waits for the restore, which takes longer on a loaded machine: a generous read timeout.
            async let invoked = RawHTTP.exchange(port: newPort, Self.get("/function/fn-7/"), timeout: .seconds(180))
            let (list, deploy, invoke) = try await (listed, deployed, invoked)
            if list.status == 503 {
                #expect(list.text.contains("Retry-After: 1") && list.body.contains("restoring functions"))
            } else {
                #expect(
                    list.status == 200 && names.allSatisfy { list.body.contains(#""name":"\#($0)""#) }, "\(list.text)")
            }
            #expect([503, 409].contains(deploy.status), "\(deploy.text)")
            #expect(invoke.status == 200, "\(invoke.text)")
            // Once restored: all 20, each with its one replica, and nothing else in containerd.
            let restored = await eventually(timeout: .seconds(60)) {
                (try? await RawHTTP.exchange(port: newPort, Self.get("/healthz")).status) == 200
            }
            #expect(restored)
            let after = try await newAdmin.call("GET", "/system/functions")
            #expect(names.allSatisfy { after.body.contains(#""name":"\#($0)""#) })
            let containers = try await ChildProcess("/usr/bin/ctr", ["-n", first.namespace, "containers", "ls", "-q"])
                .runChecked().outputText.split(separator: "\n")
            #expect(containers.count == 20, "\(containers)")
        } catch {
            await (second ?? first).cleanUp()
            throw error
        }
        await (second ?? first).cleanUp()
    }

    static func get(_ target: String, _ headers: [String: String] = [:]) -> String {
        var text = "GET \(target) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        for (name, value) in headers { text += "\(name): \(value)\r\n" }
        return text + "\r\n"
    }
}

/// Calls with the admin's basic-auth header, over a raw connection.
struct AdminClient {
    let port: Int
    let user: String
    let password: String

    init(port: Int, user: String, password: String) {
        self.port = port
        self.user = user
        self.password = password
    }

    init(daemon: DaemonProcess, port: Int) throws {
        let secrets = daemon.state.appendingPathComponent("secrets")
        func read(_ name: String) throws -> String {
            try String(contentsOf: secrets.appendingPathComponent(name), encoding: .utf8)
                .trimmingCharacters(in: .whitespacesAndNewlines)
        }
        self.init(port: port, user: try read("basic-auth-user"), password: try read("basic-auth-password"))
    }

    var header: String { "Basic " + Data("\(user):\(password)".utf8).base64EncodedString() }

    func call(_ method: String, _ target: String, json: String? = nil) async throws -> RawHTTP.Answer {
        let body = json ?? ""
        let request =
            "\(method) \(target) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nAuthorization: \(header)\r\n"
            + "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
        return try await RawHTTP.exchange(port: port, request)
    }
}

/// A daemon on a free port for `body`, always killed and cleaned up afterwards.
func withDaemon(
    environment: [String: String] = [:], prefix: String = "", arguments: [String] = [],
    _ body: (DaemonProcess, Int) async throws -> Void
) async throws {
    let daemon = try DaemonProcess(environment: environment, prefix: prefix, arguments: arguments)
    do {
        let port = try await daemon.readyPort()
        try await body(daemon, port)
    } catch {
        await daemon.cleanUp()
        throw error
    }
    await daemon.cleanUp()
}

extension AdminClient {
    /// Imports the busybox test image as `local/NAME:1` and deploys it as NAME (with `labels`), expecting 200.
    func deployTestFunction(_ name: String, namespace: String, labels: [String: String] = [:]) async throws {
        try await importTestImage("docker.io/local/\(name):1", namespace: namespace)
        let labelsJSON = String(decoding: try JSONEncoder().encode(labels), as: UTF8.self)
        let deployed = try await call(
            "POST", "/system/functions",
            json: #"{"service":"\#(name)","image":"local/\#(name):1","namespace":"\#(namespace)","#
                + #""labels":\#(labelsJSON)}"#)
        #expect(deployed.status == 200, "\(deployed.text)")
    }
}

/// Imports a busybox test image into a daemon's namespace, as `faas-cli` users import theirs offline.
func importTestImage(_ reference: String, namespace: String) async throws {
    let file = try TestImages.file(reference: reference)
    defer { unlink(file) }
    _ = try await ChildProcess("/usr/bin/ctr", ["-n", namespace, "images", "import", file]).runChecked()
}

/// Figures from /proc about a process the test started.
enum ProcessStatus {
    /// A numeric field of /proc/PID/status (`VmRSS` in kB, `Threads`); 0 when unreadable.
    static func field(_ name: String, pid: pid_t) -> Int {
        let text = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        for line in text.split(separator: "\n") where line.hasPrefix(name + ":") {
            return Int(line.dropFirst(name.count + 1).split(whereSeparator: { $0 == " " || $0 == "\t" }).first ?? "")
                ?? 0
        }
        return 0
    }

    /// User plus system CPU time, in clock ticks.
    static func cpuTicks(pid: pid_t) -> Int {
        guard let stat = try? ProcessStat.read(pid: pid) else { return 0 }
        return Int(stat.userTicks + stat.systemTicks)
    }

    /// The soft "Max open files" limit from /proc/PID/limits.
    static func openFilesLimit(pid: pid_t) -> Int {
        let text = (try? String(contentsOfFile: "/proc/\(pid)/limits", encoding: .utf8)) ?? ""
        for line in text.split(separator: "\n") where line.hasPrefix("Max open files") {
            return Int(line.split(separator: " ", omittingEmptySubsequences: true)[3]) ?? 0
        }
        return 0
    }

    /// The command lines (argument lists) of a process's direct children.
    static func children(of pid: pid_t) -> [[String]] {
        var commands: [[String]] = []
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] where Int(entry) != nil {
            guard let child = pid_t(entry), (try? ProcessStat.read(pid: child))?.parent == pid,
                let line = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline")
            else { continue }
            commands.append(line.split(separator: 0).map { String(decoding: $0, as: UTF8.self) })
        }
        return commands
    }
}

/// A host of the test's own: a network namespace joined to this machine by a veth pair on a /30 that only this
/// test uses, with a route to `subnet` via this machine.
struct LANHost {
    let name: String
    static let counter = Mutex(0)

    init(routeTo subnet: String) async throws {
        let number = Self.counter.withLock {
            $0 += 1
            return $0
        }
        let unique = (Int(getpid()) * 8 + number) % 60
        name = "sklan\(getpid() % 10000)n\(number)"
        let host = "10.253.\(unique).1"
        let peer = "10.253.\(unique).2"
        let script = """
            set -e
            ip netns add \(name)
            ip link add \(name) type veth peer name eth0 netns \(name)
            ip addr add \(host)/30 dev \(name)
            ip link set \(name) up
            ip -n \(name) addr add \(peer)/30 dev eth0
            ip -n \(name) link set eth0 up
            ip -n \(name) link set lo up
            ip -n \(name) route add \(subnet) via \(host)
            """
        _ = try await ChildProcess("/bin/sh", ["-c", script], timeout: .seconds(30)).runChecked()
    }

    func run(_ command: [String]) async throws -> ChildProcess.Outcome {
        try await ChildProcess("/usr/sbin/ip", ["netns", "exec", name] + command, timeout: .seconds(150)).run()
    }

    enum Expectation {
        /// Dropped or refused: curl gives up after a few seconds, which is all a dropped SYN can show.
        case nothing
        /// Served: the wait is long, so that a loaded machine is merely slow, never a failure.
        case answer
    }

    func fetch(_ url: String, expecting: Expectation) async throws -> ChildProcess.Outcome {
        try await run(["/usr/bin/curl", "-sS", "--max-time", expecting == .nothing ? "5" : "120", url])
    }

    func remove() async {
        _ = try? await ChildProcess("/usr/sbin/ip", ["netns", "delete", name]).run()
        _ = try? await ChildProcess("/usr/sbin/ip", ["link", "delete", name]).run()
    }
}
