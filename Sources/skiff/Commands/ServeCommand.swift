import Foundation
import SkiffHTTP
import SkiffPOSIX
import SkiffService

/// `skiff serve`: wires the daemon's services into one root service group and runs it until a signal.
enum ServeCommand {
    static func run(_ arguments: [String]) async -> Int32 {
        if arguments.contains("--help") || arguments.contains("-h") {
            print(ServeOptions.help)
            return 0
        }
        let options: ServeOptions
        do {
            options = try ServeOptions.parse(arguments, environment: ProcessInfo.processInfo.environment)
        } catch {
            Console.error("skiff serve: \(error)")
            return 2
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
        do {
            let group = try EventLoopGroup()
            let gateway = HTTPServer(
                configuration: HTTPServerConfiguration(
                    addresses: [SocketAddress(parsing: options.listen)].compactMap { $0 }),
                group: group,
                responder: try GatewayRoutes.make())
            let addresses = try await gateway.start()
            Console.error("skiff serve: listening on \(addresses.map(\.description).joined(separator: ", "))")
            let exit = await ServiceGroup(services: [HTTPService(server: gateway)], signals: signals).run()
            switch exit {
            case .signal(let number):
                Console.error("skiff serve: stopping on signal \(number)")
                return 0
            case .cancelled:
                return 0
            case .serviceFinished(let name):
                Console.error("skiff serve: service \(name) stopped unexpectedly")
                return 1
            case .serviceFailed(let name, let error):
                Console.error("skiff serve: service \(name) failed: \(error)")
                return 1
            }
        } catch {
            Console.error("skiff serve: \(error)")
            return 1
        }
    }
}

/// The HTTP server as a lifecycle service.
struct HTTPService: Service {
    let server: HTTPServer
    var name: String { "gateway" }
    func run() async throws { try await server.run() }
}
