import Foundation
import SkiffAPI
import SkiffGateway
import SkiffHTTP
import SkiffLog
import SkiffPOSIX
import SkiffQueue
import SkiffRuntime
import SkiffService
import SkiffSystemd

/// `skiff serve`: reads the settings, checks what can be checked before anything is created (the port, the
/// state directory), arms the signals and hands over to the ``Daemon``.
enum ServeCommand {
    static func run(_ arguments: [String]) async -> Int32 {
        if arguments.contains("--help") || arguments.contains("-h") {
            print(ServeOptions.help)
            return 0
        }
        let options: ServeOptions
        let configuration: RuntimeConfiguration
        let gatewayConfiguration: GatewayConfiguration
        let imageCollection: ImageCollector.Settings
        let queueSettings: QueueWorker.Settings
        do {
            options = try ServeOptions.parse(arguments, environment: ProcessInfo.processInfo.environment)
            configuration = try runtimeConfiguration(options)
            imageCollection = try imageCollectorSettings(options)
            var gatewaySettings = GatewayConfiguration(release: SkiffVersion.release)
            gatewaySettings.defaultNamespace = options.namespace
            gatewaySettings.upstreamTimeout = try GoDuration.parse(options.upstreamTimeout, field: "upstream_timeout")
            gatewaySettings.requireAuthForInvoke = options.authInvoke == "true"
            gatewaySettings.maxReplicas = Int(options.maxReplicas) ?? gatewaySettings.maxReplicas
            gatewaySettings.asyncMaxBody = Int(options.asyncMaxBody) ?? gatewaySettings.asyncMaxBody
            gatewayConfiguration = gatewaySettings
            queueSettings = try self.queueSettings(options)
        } catch {
            Console.error("skiff serve: \(error)")
            return 2
        }
        let logger = Logger(
            label: "skiff", level: LogLevel(name: options.logLevel) ?? .info, handler: makeDaemonLogHandler())
        let notifier = SystemdNotifier()
        // A taken port is the commonest start-up failure: report it before anything is created on disk.
        var listeners = [("--listen", options.listen)]
        if !options.isNATSOff { listeners.append(("--nats-listen", options.natsListen)) }
        for (flag, listen) in listeners {
            guard let address = SocketAddress(parsing: listen) else { continue }
            do {
                Socket.close(try Socket.listen(on: address, reusePort: false))
            } catch {
                Console.error(
                    "skiff serve: \(HTTPServerError.bindFailed(addresses: [listen], underlying: error)) (\(flag))")
                return 1
            }
        }
        do {
            try FileManager.default.createDirectory(atPath: options.stateDirectory, withIntermediateDirectories: true)
        } catch {
            Console.error("skiff serve: cannot create the state directory \(options.stateDirectory): \(error)")
            return 1
        }
        // Armed before anything starts: a SIGTERM during start-up stops the daemon cleanly once it is up.
        let signals: SignalListener
        do {
            signals = try SignalListener(signals: [SIGTERM, SIGINT])
        } catch {
            Console.error("skiff serve: cannot install signal handlers: \(error)")
            return 1
        }
        MemoryPolicy.returnLargeBuffersToTheSystem()
        let daemon = Daemon(
            options: options, runtimeConfiguration: configuration, gatewayConfiguration: gatewayConfiguration,
            imageCollection: imageCollection, queueSettings: queueSettings, logger: logger, notifier: notifier)
        return await daemon.run(signals: signals)
    }

    static func queueSettings(_ options: ServeOptions) throws -> QueueWorker.Settings {
        var settings = QueueWorker.Settings()
        settings.retry.minimum = try GoDuration.parse(options.asyncRetryMin, field: "async_retry_min")
        settings.retry.maximum = try GoDuration.parse(options.asyncRetryMax, field: "async_retry_max")
        settings.retry.maxAttempts = Int(options.asyncMaxAttempts) ?? settings.retry.maxAttempts
        guard settings.retry.minimum > .zero, settings.retry.minimum <= settings.retry.maximum else {
            throw ServeOptions.Invalid(
                description: "--async-retry-min must be above zero and at most --async-retry-max")
        }
        return settings
    }

    static func imageCollectorSettings(_ options: ServeOptions) throws -> ImageCollector.Settings {
        var settings = ImageCollector.Settings()
        settings.path = options.containerdRoot
        settings.highPercent = Int(options.imageGCHigh) ?? settings.highPercent
        settings.lowPercent = Int(options.imageGCLow) ?? settings.lowPercent
        settings.interval = try GoDuration.parse(options.imageGCInterval, field: "image_gc_interval")
        settings.minimumAge = try GoDuration.parse(options.imageGCMinAge, field: "image_gc_min_age")
        guard settings.interval >= .seconds(1) else {
            throw ServeOptions.Invalid(description: "--image-gc-interval must be at least 1s")
        }
        return settings
    }

    static func runtimeConfiguration(_ options: ServeOptions) throws -> RuntimeConfiguration {
        var configuration = RuntimeConfiguration(
            stateDirectory: options.stateDirectory, logCollector: ThisBinary.path)
        configuration.bridgeName = options.bridge
        configuration.subnet = try Subnet(parsing: options.subnet).description
        configuration.defaultNamespace = options.namespace
        configuration.containerdAddress = options.containerd
        configuration.cniPluginDirectory = options.cniDirectory
        configuration.logSink = RuntimeConfiguration.LogSink(rawValue: options.logSink) ?? .automatic
        configuration.deployTimeout = try GoDuration.parse(options.deployTimeout, field: "deploy_timeout")
        configuration.gracePeriod = try GoDuration.parse(options.gracePeriod, field: "grace_period")
        configuration.pidsLimit = Int(options.pidsLimit) ?? configuration.pidsLimit
        configuration.exposeReplicas = options.exposeReplicas == "true"
        return configuration
    }
}
