import Foundation
import Glibc
import SkiffAPI
import SkiffGateway
import SkiffHTTP
import SkiffLog
import SkiffMetrics
import SkiffMetricsStore
import SkiffNATS
import SkiffNATSClient
import SkiffPOSIX
import SkiffQueue
import SkiffRuntime
import SkiffService
import SkiffSystemd

/// The daemon `skiff serve` runs: every long-lived part as a service in one root group (the gateway's
/// listeners, the NATS broker, the runtime's event watch, the queue's workers, the metrics store's collection, image
/// pruning, the systemd watchdog; later the autoscaler), started in order: the gateway listener first (so /healthz answers at
/// once), the runtime's restore (containerd reconcile), the listener on the bridge address for functions, then
/// READY=1 to systemd.
struct Daemon {
    let options: ServeOptions
    let runtimeConfiguration: RuntimeConfiguration
    let gatewayConfiguration: GatewayConfiguration
    let imageCollection: ImageCollector.Settings
    let queueSettings: QueueWorker.Settings
    let logger: Logger
    let notifier: SystemdNotifier

    /// Runs until a signal or a failed service; returns the exit status.
    func run(signals: SignalListener) async -> Int32 {
        let configuration = runtimeConfiguration
        do {
            let group = try EventLoopGroup()
            let credentials = try Credentials.loadOrCreate(stateDirectory: options.stateDirectory)
            let runtime = try ContainerdRuntime(configuration: configuration, group: group, logger: logger)
            // Every collector of the process; /metrics renders it, the metrics store will read it in-process.
            let registry = MetricsRegistry()
            registry.register(ProcessMetrics(startTime: Date().timeIntervalSince1970))
            var gatewayConfiguration = gatewayConfiguration
            var nats: NATSServer?
            // Said after the gateway's line, which harnesses read first.
            var natsAnnouncement: String?
            if let broker = try Broker(options: options) {
                var natsConfiguration = broker.configuration
                let natsLogger = logger.with(["component": "nats"])
                natsConfiguration.acceptPauseReporter = { natsLogger.warning($0) }
                let server = NATSServer(configuration: natsConfiguration, group: group)
                let natsAddresses = try await server.start()
                natsAnnouncement =
                    "skiff serve: NATS broker on \(natsAddresses.map(\.description).joined(separator: ", ")) "
                    + "(auth: \(broker.auth))"
                gatewayConfiguration.broker = natsAddresses.first.map { broker.description(listeningOn: $0) }
                registry.register(BrokerMetrics(server: server))
                nats = server
            }
            let (queue, queueAnnouncement) = try await Self.openQueue(
                options: options, broker: nats, group: group)
            let client = HTTPClient(group: group)
            let metricsSettings = try MetricsSettings(options)
            let metricsLogger = logger.with(["component": "metrics"])
            let metricsStore = try TimeSeriesStore(
                directory: "\(options.stateDirectory)/metrics", retention: metricsSettings.retention,
                maximumSeries: Int(options.metricsMaxSeries) ?? 100_000)
            gatewayConfiguration.metricsQueryAuth = options.metricsQueryAuth == "true"
            gatewayConfiguration.metricsQueryMaxSamples = Int(options.metricsQueryMaxSamples)
            let api = Gateway(
                runtime: runtime, configuration: gatewayConfiguration,
                credentials: credentials, client: client, registry: registry, queue: queue,
                metricsStore: metricsStore, logger: logger.with(["component": "gateway"]))
            Self.carryInvocationCounts(from: metricsStore, into: api.invocationMetrics, logger: metricsLogger)
            let metricsCollection = MetricsCollection(
                store: metricsStore, registry: registry, interval: metricsSettings.interval, logger: metricsLogger,
                targets: { [staticTargets = metricsSettings.staticTargets] in
                    await Self.scrapeTargets(runtime) + staticTargets
                }, fetch: Self.scrape(client))
            registry.register(metricsCollection)
            let routes = try api.makeRouter()
            var serverSettings = HTTPServerConfiguration(
                addresses: [SocketAddress(parsing: options.listen)].compactMap { $0 })
            // Client connections may use only part of the descriptors: the rest stay for the runtime (ctr, CNI,
            // /proc, logs) and for the connections to replicas, so a flood of idle clients cannot starve them.
            let openFiles = ResourceLimits.raiseOpenFiles()
            let budget = ResourceLimits.connectionBudget(openFiles: openFiles, reserve: max(64, openFiles / 8))
            serverSettings.maxConnections = min(serverSettings.maxConnections, max(16, budget * 3 / 4))
            let serverLogger = logger.with(["component": "http"])
            serverSettings.acceptPauseReporter = { serverLogger.warning($0) }
            serverSettings.bodyTimeout = try GoDuration.parse(options.readTimeout, field: "read_timeout")
            serverSettings.writeTimeout = try GoDuration.parse(options.writeTimeout, field: "write_timeout")
            let gateway = HTTPServer(configuration: serverSettings, group: group, responder: routes)
            let addresses = try await gateway.start()
            Console.error("skiff serve: listening on \(addresses.map(\.description).joined(separator: ", "))")
            if let natsAnnouncement { Console.error(natsAnnouncement) }
            if let queueAnnouncement { Console.error(queueAnnouncement) }
            Self.reportOpening(of: metricsStore, logger: metricsLogger)
            notifier.status("restoring functions from containerd")

            try await runtime.start()
            api.markReady()
            var services: [any Service] = [
                NamedService("gateway") { try await gateway.run() },
                NamedService("runtime") { try await runtime.run() },
            ]
            // Functions call http://gateway:8080 (their /etc/hosts names the bridge address); listen there too
            // unless the main listener already covers it.
            let bridgeAddress = SocketAddress(host: runtime.gatewayAddress, port: configuration.gatewayPort)
            if let bridgeAddress, !addresses.contains(where: { $0.covers(bridgeAddress) }) {
                var bridgeSettings = serverSettings
                bridgeSettings.addresses = [bridgeAddress]
                bridgeSettings.maxConnections = max(16, budget / 4)
                // Only functions call this one: a LAN host that routes to the bridge address gets nothing, so
                // `--listen 127.0.0.1:8080` really keeps the API off the LAN.
                let functions = runtime.subnet
                bridgeSettings.acceptsPeer = { functions.contains($0.host) }
                let bridgeListener = HTTPServer(configuration: bridgeSettings, group: group, responder: routes)
                _ = try await bridgeListener.start()
                services.append(NamedService("gateway-bridge") { try await bridgeListener.run() })
            }
            var queueSettings = queueSettings
            if let nats {
                services.append(NamedService("nats") { try await nats.run() })
                // Subject triggers speak NATS to the broker in this process, over a socketpair: no port, and the
                // broker's own credentials.
                let triggers = SubjectTriggers(
                    queue: queue, runtime: runtime, invoker: api.invoker,
                    connect: { [group] in
                        let (brokerEnd, clientEnd) = try Socket.pair()
                        guard nats.serveConnected(brokerEnd) else {
                            Glibc.close(brokerEnd)
                            Glibc.close(clientEnd)
                            throw NATSClientError.connect("the broker is not running")
                        }
                        return try await NATSClient.adopt(
                            socket: clientEnd, options: Self.clientOptions(nats.configuration), loop: group.next())
                    }, logger: logger.with(["component": "triggers"]))
                queueSettings.replies = triggers
                services.append(NamedService("subject-triggers") { await triggers.run() })
            }
            let callbacks = CallbackWorker(
                queue: queue, client: client, retry: queueSettings.retry,
                logger: logger.with(["component": "queue", "queue": "callbacks"]))
            let workers = QueueWorkers(queue: queue, runtime: runtime, callbacks: callbacks) {
                [api, queueSettings, logger] lane in
                QueueWorker(
                    queue: queue, lane: lane, invoker: api.invoker, runtime: runtime, settings: queueSettings,
                    logger: logger.with(["component": "queue", "queue": lane.label]))
            }
            services.append(NamedService("queue-workers") { await workers.run() })
            services.append(NamedService("metrics-store") { await metricsCollection.run() })
            let schedules = CronTriggers(
                queue: queue, runtime: runtime, stateFile: "\(options.stateDirectory)/triggers/cron.json",
                timeZone: TimeZone(identifier: options.cronTimezone) ?? .current,
                logger: logger.with(["component": "cron"]))
            services.append(NamedService("cron") { await schedules.run() })
            if imageCollection.highPercent < 100 {
                let collector = ImageCollector(
                    runtime: runtime, settings: imageCollection, logger: logger.with(["component": "image-gc"]))
                services.append(NamedService("image-gc") { try await collector.run() })
            }
            if let interval = notifier.watchdogPingInterval {
                services.append(
                    // WATCHDOG=1 to systemd at half of `WatchdogSec=`, for as long as the daemon runs.
                    NamedService("systemd-watchdog") { [notifier] in
                        while !Task.isCancelled {
                            notifier.watchdog()
                            try await Task.sleep(for: interval)
                        }
                    })
            }
            logger.info("ready", ["listen": options.listen, "state_dir": options.stateDirectory])
            notifier.ready(status: "serving on \(addresses.map(\.description).joined(separator: ", "))")

            let exit = await ServiceGroup(services: services, signals: signals).run()
            notifier.stopping()
            switch exit {
            case .signal(let number):
                logger.info("stopping on signal \(number); function containers keep running")
                return 0
            case .cancelled:
                return 0
            case .serviceFinished(let name):
                logger.error("service \(name) stopped unexpectedly")
                return 1
            case .serviceFailed(let name, let error):
                logger.error("service \(name) failed: \(error)")
                return 1
            }
        } catch {
            Console.error("skiff serve: \(error)")
            notifier.stopping()
            return 1
        }
    }
}

extension Daemon {

    /// How the daemon's own NATS client authenticates to the broker it runs.
    static func clientOptions(_ configuration: NATSConfiguration) -> NATSClientOptions {
        var options = NATSClientOptions()
        options.name = "skiff-triggers"
        switch configuration.authorization {
        case .token(let token): options.token = token
        case .user(let user, let password):
            options.user = user
            options.password = password
        case nil: break
        }
        return options
    }
}

extension SocketAddress {
    /// Whether a listener on self also accepts connections to `other` (same port, same or wildcard host).
    fileprivate func covers(_ other: SocketAddress) -> Bool {
        port == other.port && (self == other || description.hasPrefix("0.0.0.0:"))
    }
}
