import Foundation
import SkiffAPI
import SkiffNATS
import SkiffPOSIX

/// `skiff nats-server`'s settings, from nats-server's own flags and the subset of its config file that applies
/// to one node: client harnesses start "nats-server -p PORT -m HTTP_PORT -a 127.0.0.1 --user U --pass P" and
/// the like, and must get a broker that behaves as theirs does. Flags win over the file.
struct NATSServerOptions: Equatable {
    var host = "0.0.0.0"
    /// -1 picks a free port (nats-server's convention).
    var port = 4222
    /// The monitor's HTTP port (/varz, /connz, /healthz); nil for none.
    var monitorPort: Int?
    var monitorHost: String?
    var user: String?
    var password: String?
    var token: String?
    var authTimeout: Duration?
    var jetStream = false
    var storeDirectory: String?
    var serverName: String?
    var maxPayload: Int?
    var maxConnections: Int?
    var maxControlLine: Int?
    var maxPending: Int?
    var pingInterval: Duration?
    var maxPingsOut: Int?
    var writeDeadline: Duration?
    var lameDuckGracePeriod: Duration = .seconds(10)
    var showVersion = false
    var showHelp = false

    struct Invalid: Error, CustomStringConvertible {
        let description: String
    }

    static let usage = """
        usage: skiff nats-server [options]     (also run as `nats-server`: a link named so runs this)

        Skiff's NATS broker alone, with nats-server's flags:
          -a, --addr, --net HOST     listen on HOST (default 0.0.0.0)
          -p, --port PORT            client port (default 4222; -1 picks a free one)
          -m, --http_port PORT       monitoring port: /varz, /connz, /healthz (-1 picks a free one)
          -n, --name NAME            server name
          --user USER --pass PASS    clients must send this user and password
          --auth TOKEN               clients must send this token
          -js, --jetstream           JetStream's work-queue subset: streams and durable pull consumers
          -sd, --store_dir DIR       where JetStream keeps its streams (default /tmp/nats/jetstream)
          -c, --config FILE          nats-server's config file: port, host, listen, http_port, server_name,
                                     authorization {user, password, token, timeout}, max_payload,
                                     max_connections, max_control_line, max_pending, ping_interval, ping_max,
                                     write_deadline, lame_duck_grace_period, jetstream {store_dir}
          -l, --log FILE, -D, -V, -DV, -T   accepted; logs go to standard error
          -v, --version              print the version
        Stays in the foreground. SIGINT or SIGTERM: stop. SIGUSR2: lame-duck mode (clients are told, then closed
        after the grace period).
        """

    static func parse(
        _ arguments: [String], readFile: (String) -> String? = { try? String(contentsOfFile: $0, encoding: .utf8) }
    )
        throws -> NATSServerOptions
    {
        var options = NATSServerOptions()
        var flags: [(String, String?)] = []
        var configFile: String?
        var index = 0
        let withValue: Set<String> = [
            "-a", "--addr", "--net", "-p", "--port", "-m", "--http_port", "-n", "--name", "--server_name", "--user",
            "--pass", "--auth", "-sd", "--store_dir", "-c", "--config", "-l", "--log", "--pid", "-P",
        ]
        while index < arguments.count {
            var flag = arguments[index]
            var inline: String?
            if flag.hasPrefix("-"), let equals = flag.firstIndex(of: "=") {
                inline = String(flag[flag.index(after: equals)...])
                flag = String(flag[..<equals])
            }
            if withValue.contains(flag) {
                if inline == nil {
                    index += 1
                    guard index < arguments.count else { throw Invalid(description: "\(flag) needs a value") }
                    inline = arguments[index]
                }
                if flag == "-c" || flag == "--config" { configFile = inline } else { flags.append((flag, inline)) }
            } else {
                flags.append((flag, nil))
            }
            index += 1
        }
        if let configFile {
            guard let text = readFile(configFile) else {
                throw Invalid(description: "cannot read the config file \(configFile)")
            }
            try options.apply(try NATSConfigFile.parse(text), file: configFile)
        }
        for (flag, value) in flags { try options.apply(flag: flag, value: value) }
        return options
    }

    private mutating func apply(flag: String, value: String?) throws {
        let text = value ?? ""
        switch flag {
        case "-a", "--addr", "--net": host = text
        case "-p", "--port": port = try Self.port(text, flag)
        case "-m", "--http_port": monitorPort = try Self.port(text, flag)
        case "-n", "--name", "--server_name": serverName = text
        case "--user": user = text
        case "--pass": password = text
        case "--auth": token = text
        case "-js", "--jetstream": jetStream = true
        case "-sd", "--store_dir": storeDirectory = text
        case "-l", "--log", "--pid", "-P", "-D", "-V", "-DV", "-VD", "-T", "--debug", "--trace", "--logtime": break
        case "-v", "--version": showVersion = true
        case "-h", "--help", "help": showHelp = true
        default: throw Invalid(description: "unknown option '\(flag)'\n\n\(Self.usage)")
        }
    }

    private mutating func apply(_ settings: [String: NATSConfigFile.Value], file: String) throws {
        func fail(_ key: String, _ what: String) -> Invalid {
            Invalid(description: "\(file): \(key) must be \(what)")
        }
        for (key, value) in settings {
            switch key {
            case "port":
                guard let number = value.integer else { throw fail(key, "a port number") }
                port = try Self.port(String(number), key)
            case "host", "net", "addr": host = value.text ?? host
            case "listen":
                guard let text = value.text else { throw fail(key, "HOST:PORT") }
                let parts = text.split(separator: ":")
                if parts.count == 2, let number = Int(parts[1]) {
                    host = String(parts[0])
                    port = number
                } else if let number = Int(text) {
                    port = number
                } else {
                    throw fail(key, "HOST:PORT")
                }
            case "http_port", "monitor_port":
                guard let number = value.integer else { throw fail(key, "a port number") }
                monitorPort = number
            case "http":
                guard let text = value.text else { throw fail(key, "HOST:PORT") }
                let parts = text.split(separator: ":")
                monitorHost = parts.count == 2 ? String(parts[0]) : nil
                monitorPort = Int(parts.last ?? "")
            case "server_name": serverName = value.text
            case "max_payload": maxPayload = value.integer
            case "max_connections", "max_conn": maxConnections = value.integer
            case "max_control_line": maxControlLine = value.integer
            case "max_pending": maxPending = value.integer
            case "ping_interval": pingInterval = try value.duration ?? { throw fail(key, "a duration") }()
            case "ping_max": maxPingsOut = value.integer
            case "write_deadline": writeDeadline = try value.duration ?? { throw fail(key, "a duration") }()
            case "lame_duck_grace_period":
                lameDuckGracePeriod = try value.duration ?? { throw fail(key, "a duration") }()
            case "authorization":
                guard case .block(let block) = value else { throw fail(key, "a block { … }") }
                user = block["user"]?.text ?? user
                password = block["password"]?.text ?? block["pass"]?.text ?? password
                token = block["token"]?.text ?? token
                if let timeout = block["timeout"] { authTimeout = timeout.duration }
            case "jetstream":
                if case .block(let block) = value {
                    jetStream = true
                    storeDirectory = block["store_dir"]?.text ?? storeDirectory
                } else {
                    jetStream = value.text.map { ["enabled", "true", "on"].contains($0) } ?? false
                }
            default:
                Console.error("skiff nats-server: \(file): '\(key)' is not supported by this broker; ignored")
            }
        }
    }

    private static func port(_ text: String, _ flag: String) throws -> Int {
        guard let number = Int(text), number == -1 || (0...65535).contains(number) else {
            throw Invalid(description: "\(flag) must be a port number (or -1 for a free one), not '\(text)'")
        }
        return number
    }

    /// The broker's configuration; throws with what to change.
    func configuration() throws -> NATSConfiguration {
        guard let address = SocketAddress(host: host, port: port == -1 ? 0 : port) else {
            throw Invalid(description: "-a '\(host)' is not an IP address")
        }
        if (user == nil) != (password == nil) {
            throw Invalid(description: "--user and --pass go together")
        }
        var configuration = NATSConfiguration(addresses: [address])
        if let serverName { configuration.serverName = serverName }
        if let user, let password {
            configuration.authorization = .user(user, password: password)
        } else if let token {
            configuration.authorization = .token(token)
        }
        if let authTimeout { configuration.authTimeout = authTimeout }
        if let maxPayload { configuration.maxPayload = maxPayload }
        if let maxConnections { configuration.maxConnections = maxConnections }
        if let maxControlLine { configuration.maxControlLine = maxControlLine }
        if let maxPending { configuration.maxPending = maxPending }
        if let pingInterval { configuration.pingInterval = pingInterval }
        if let maxPingsOut { configuration.maxPingsOut = maxPingsOut }
        if let writeDeadline { configuration.writeDeadline = writeDeadline }
        if jetStream {
            configuration.jetStreamDirectory = "\(storeDirectory ?? "/tmp/nats")/jetstream"
        }
        return configuration
    }
}
