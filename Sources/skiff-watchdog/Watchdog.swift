import Glibc
import SkiffHTTP
import SkiffMetrics
import SkiffNet
import SkiffPOSIX
import SkiffService
import Synchronization

/// Serves `/_/health`, `/_/ready` and, on every other path and method, the function: forked per request (fork
/// mode) or proxied to the long-lived process (http mode). Healthy only once it can really serve: the lock file
/// exists and, in http mode, the upstream accepts connections (of-watchdog reports healthy before that and the
/// first requests after a cold start fail). SIGTERM: unhealthy at once but still serving for
/// `healthcheck_interval`, then a drain of at most `write_timeout`, then exit; in http mode the process gets SIGTERM immediately, as of-watchdog does.
final class Watchdog: Sendable {
    let settings: WatchdogSettings
    private let inflight = Atomic<Int>(0)
    private let accepting = Atomic<Bool>(false)
    private let upstreamPID = Atomic<Int32>(0)
    /// SIGTERM arrived: the function process ending from now on is the drain's doing, not a failure.
    private let draining = Atomic<Bool>(false)
    private let metrics = WatchdogMetrics()

    init(settings: WatchdogSettings) { self.settings = settings }

    /// Runs until SIGTERM has been answered (exit 0) or a part failed, the function's process among them (exit
    /// 1). Every long-lived part is a service in one group: the function's listener, the metrics listener, the
    /// upstream's output relay (http mode), the orphan reaper (as PID 1), and the drain that SIGTERM starts.
    func run() async -> Int32 {
        let signals: SignalListener
        let group: EventLoopGroup
        let server: HTTPServer
        let boundPort: Int
        do {
            signals = try SignalListener(signals: [SIGTERM])
            group = try EventLoopGroup(loopCount: 1)
            var configuration = HTTPServerConfiguration(host: "0.0.0.0", port: settings.port)
            configuration.headTimeout = settings.readTimeout
            configuration.bodyTimeout = settings.readTimeout
            configuration.writeTimeout = settings.writeTimeout
            // Cancelled at the end of the drain: calls still in flight get up to write_timeout.
            server = HTTPServer(
                configuration: configuration, group: group, responder: try makeRouter(group: group),
                gracePeriod: settings.writeTimeout)
            boundPort = try await server.start().first?.port ?? settings.port
        } catch {
            WatchdogLog.line("skiff-watchdog: cannot start: \(error)")
            return 1
        }
        var services: [any Service] = [NamedService("function listener") { try await server.run() }]
        if let metricsServer = await startMetrics(group: group) {
            services.append(NamedService("metrics listener") { try await metricsServer.run() })
        }
        if settings.mode == .http {
            guard let relay = startUpstream() else { return 1 }
            services.append(relay)
            guard await waitForUpstream(loop: group.next()) else {
                WatchdogLog.line("skiff-watchdog: the function process never accepted connections on the upstream")
                return 1
            }
        }
        if !settings.suppressLock {
            FileSystem.createEmpty(WatchdogSettings.lockPath(), mode: 0o660)
        }
        accepting.store(true, ordering: .releasing)
        if Processes.current == 1 {
            // PID 1 of a container: orphans of the function's processes become our children; reap them.
            services.append(
                NamedService("orphan reaper") {
                    while !Task.isCancelled {
                        try await Task.sleep(for: .milliseconds(500))
                        ChildProcess.reapOrphans()
                    }
                })
        }
        services.append(NamedService(Self.drain) { await self.drain(after: signals) })
        // The port really bound: with port=0 (tests) the kernel chose it.
        WatchdogLog.line("skiff-watchdog: listening on port \(boundPort), \(settings.mode) mode")
        let exit = await ServiceGroup(services: services, signals: nil).run()
        return exit == .serviceFinished(Self.drain) || draining.load(ordering: .acquiring) ? 0 : 1
    }

    private static let drain = "drain"

    /// SIGTERM: unhealthy at once but still serving for `healthcheck_interval`, so that load balancers probing
    /// /_/health notice; then the group stops the listeners, which drain calls in flight within write_timeout.
    private func drain(after signals: SignalListener) async {
        // Nil when the group stops for another reason (the function process ended): nothing to drain for.
        guard await signals.wait() != nil else { return }
        draining.store(true, ordering: .releasing)
        accepting.store(false, ordering: .releasing)
        FileSystem.removeIfPresent(WatchdogSettings.lockPath())
        let pid = upstreamPID.load(ordering: .acquiring)
        if pid > 0 { Processes.signal(pid, SIGTERM) }
        WatchdogLog.line(
            "skiff-watchdog: SIGTERM received; unhealthy for \(settings.healthcheckInterval) while still serving, then "
                + "draining \(inflight.load(ordering: .relaxed)) calls")
        try? await Task.sleep(for: settings.healthcheckInterval)
    }

    private func makeRouter(group: EventLoopGroup) throws -> HTTPRouter {
        var router = HTTPRouter()
        let health: @Sendable (HTTPRequest) async throws -> HTTPResponse = { [self] _ in
            accepting.load(ordering: .acquiring)
                ? HTTPResponse(status: .ok, body: .string("OK"))
                : HTTPResponse(status: HTTPStatus(code: 503))
        }
        try router.add(.get, "/_/health", handler: health)
        try router.add(.get, "/_/ready") { [self] request in
            let limited = settings.maxInflight > 0 && inflight.load(ordering: .relaxed) >= settings.maxInflight
            return limited ? HTTPResponse(status: HTTPStatus(code: 429)) : try await health(request)
        }
        let invoke: @Sendable (HTTPRequest) async throws -> HTTPResponse
        switch settings.mode {
        case .fork:
            let runner = ForkRunner(settings: settings)
            invoke = { try await runner.respond(to: $0) }
        case .http:
            let proxy = UpstreamProxy(settings: settings, client: HTTPClient(group: group))
            invoke = { try await proxy.respond(to: $0) }
        }
        let limited: @Sendable (HTTPRequest) async throws -> HTTPResponse = { [self] request in
            let current = inflight.add(1, ordering: .relaxed).newValue
            defer { inflight.subtract(1, ordering: .relaxed) }
            let started = ContinuousClock.now
            metrics.started()
            var response = HTTPResponse(status: .internalServerError)
            defer {
                let seconds = (ContinuousClock.now - started).seconds
                metrics.finished(code: response.status.code, method: request.method.rawValue, seconds: seconds)
                // One line per call in the function's log, as OpenFaaS's watchdogs write it, so that
                // `skiff logs NAME` shows the traffic.
                WatchdogLog.line(CallLine.format(request, response.status, response.body.knownLength, seconds))
            }
            if settings.maxInflight > 0 && current > settings.maxInflight {
                response = HTTPResponse(
                    status: HTTPStatus(code: 429), headers: ["X-OpenFaaS-Internal": "faas-middleware"],
                    body: .string(
                        "Concurrent request limit exceeded. Max concurrent requests: \(settings.maxInflight)\n"))
                return response
            }
            response = try await invoke(request)
            return response
        }
        for method in [HTTPMethod.get, .post, .put, .patch, .delete, .options, .head] {
            try router.add(method, "/{path...}", handler: limited)
        }
        return router
    }

    /// The metrics listener. Unlike the OpenFaaS watchdogs, a taken port is logged rather than fatal.
    private func startMetrics(group: EventLoopGroup) async -> HTTPServer? {
        guard settings.metricsPort > 0 else { return nil }
        do {
            var router = HTTPRouter()
            let registry = MetricsRegistry()
            registry.register(metrics)
            try router.add(.get, "/metrics") { _ in
                HTTPResponse(
                    status: .ok, headers: ["Content-Type": "text/plain; version=0.0.4"],
                    body: .string(await registry.exposition()))
            }
            let server = HTTPServer(
                configuration: HTTPServerConfiguration(host: "0.0.0.0", port: settings.metricsPort), group: group,
                responder: router)
            _ = try await server.start()
            return server
        } catch {
            WatchdogLog.line("skiff-watchdog: no metrics listener on port \(settings.metricsPort): \(error)")
            return nil
        }
    }

    /// http mode: the function process, started once, and the service that relays its output line by line and
    /// ends when it does (which ends the watchdog: the container has no function any more).
    private func startUpstream() -> (any Service)? {
        guard let executable = ExecutableSearch.find(settings.process[0]) else {
            WatchdogLog.line("skiff-watchdog: cannot find \(settings.process[0]) on PATH")
            return nil
        }
        let child: ChildProcess.Streaming
        do {
            child = try ChildProcess(executable, Array(settings.process.dropFirst())).start()
        } catch {
            WatchdogLog.line("skiff-watchdog: cannot start \(settings.process.joined(separator: " ")): \(error)")
            return nil
        }
        upstreamPID.store(child.pid, ordering: .releasing)
        return NamedService("function process") {
            do {
                for try await line in child.lines { WatchdogLog.line(line) }
            } catch let error as ChildProcessError {
                // Its output was relayed line by line already; repeating it here read as if the last line were
                // the reason it ended.
                WatchdogLog.line("skiff-watchdog: the function process \(error.outcome.ending)")
            } catch {
                WatchdogLog.line("skiff-watchdog: \(error)")
            }
            WatchdogLog.line("Forked function has terminated")
        }
    }

    /// Waits until the upstream accepts a TCP connection (60 s at most). Nothing tells the watchdog when its
    /// child starts listening, so it asks again every few milliseconds; each question waits on an event loop.
    private func waitForUpstream(loop: EventLoop) async -> Bool {
        guard let upstream = settings.upstream, let address = SocketAddress(host: upstream.host, port: upstream.port)
        else { return false }
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline && !Task.isCancelled {
            if await ConnectProbe.accepts(address, on: loop, within: .milliseconds(500)) { return true }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return false
    }
}

/// Resolves a command name against PATH, as exec would.
enum ExecutableSearch {
    static func find(_ name: String) -> String? {
        if name.contains("/") { return FileSystem.isExecutable(name) ? name : nil }
        let path = getenv("PATH").map { String(cString: $0) } ?? "/usr/local/bin:/usr/bin:/bin"
        for directory in path.split(separator: ":") where FileSystem.isExecutable("\(directory)/\(name)") {
            return "\(directory)/\(name)"
        }
        return nil
    }
}

/// `POST /path - 200 OK - ContentLength: 12B (0.0123s)`, of-watchdog's shape; `stream` when the length is not
/// known before the body is sent.
enum CallLine {
    static func format(_ request: HTTPRequest, _ status: HTTPStatus, _ length: Int?, _ seconds: Double) -> String {
        let size = length.map { "\($0)B" } ?? "stream"
        return "\(request.method.rawValue) \(request.path) - \(status) - ContentLength: \(size) "
            + "(\(DurationText.seconds(seconds))s)"
    }
}
