import Foundation
import Glibc
import SkiffHTTP
import SkiffNATS
import SkiffPOSIX
import SkiffService

/// `skiff nats-server` (or the binary run under the name `nats-server`): the broker alone, in the foreground,
/// taking nats-server's flags and logging its start-up lines the way nats-server does, since harnesses read
/// "Listening for client connections on HOST:PORT" to learn a port chosen with `-p -1`.
enum NATSServerCommand {
    static func run(_ arguments: [String]) async -> Int32 {
        let options: NATSServerOptions
        let configuration: NATSConfiguration
        do {
            options = try NATSServerOptions.parse(arguments)
            configuration = try options.configuration()
        } catch {
            Console.error("nats-server: \(error)")
            return 1
        }
        if options.showHelp {
            print(NATSServerOptions.usage)
            return 0
        }
        if options.showVersion {
            print("nats-server: v\(configuration.version) (skiff \(SkiffVersion.release))")
            return 0
        }
        let signals: SignalListener
        do {
            signals = try SignalListener(signals: [SIGTERM, SIGINT, SIGUSR2])
        } catch {
            Console.error("nats-server: cannot install signal handlers: \(error)")
            return 1
        }
        MemoryPolicy.returnLargeBuffersToTheSystem()
        do {
            let group = try EventLoopGroup()
            let server = NATSServer(configuration: configuration, group: group)
            log("Starting nats-server (skiff \(SkiffVersion.release))")
            log("  Version:  \(configuration.version)")
            log("  Name:     \(configuration.serverName)")
            log("  ID:       \(server.serverIdentifier)")
            if let directory = configuration.jetStreamDirectory {
                log("Starting JetStream")
                log("  Store Directory: \"\(directory)\"")
            }
            var monitor: HTTPServer?
            if let monitorPort = options.monitorPort {
                let host = options.monitorHost ?? options.host
                let monitorServer = HTTPServer(
                    configuration: HTTPServerConfiguration(host: host, port: monitorPort == -1 ? 0 : monitorPort),
                    group: group, responder: try NATSMonitor.router(for: server))
                let addresses = try await monitorServer.start()
                log("Starting http monitor on \(host):\(addresses.first?.port ?? monitorPort)")
                monitor = monitorServer
            }
            let addresses = try await server.start()
            for address in addresses { log("Listening for client connections on \(address)") }
            log("Server is ready")
            let signal = await signals.wait()
            if signal == SIGUSR2 {
                log("Entering lame duck mode, stop accepting new clients")
                await server.shutdown(lameDuckGracePeriod: options.lameDuckGracePeriod)
            } else {
                log("Trapped \"\(signal == SIGINT ? "interrupt" : "terminated")\" signal")
                await server.shutdown()
            }
            await monitor?.shutdown(gracePeriod: .seconds(1))
            log("Server Exiting..")
            return 0
        } catch {
            Console.error("nats-server: \(error)")
            return 1
        }
    }

    /// A line as nats-server writes it: `[PID] YYYY/MM/DD HH:MM:SS.ffffff [INF] message`.
    private static func log(_ message: String) {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var seconds = now.tv_sec
        var parts = tm()
        localtime_r(&seconds, &parts)
        let stamp = String(
            format: "%04d/%02d/%02d %02d:%02d:%02d.%06d", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1,
            Int(parts.tm_mday), Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec), Int(now.tv_nsec / 1000))
        Console.error("[\(getpid())] \(stamp) [INF] \(message)")
    }
}
