import SkiffPOSIX

/// `skiff serve` options: flags win over environment variables, which win over defaults.
struct ServeOptions: Equatable {
    var listen = "0.0.0.0:8080"
    var stateDirectory = "/var/lib/skiff"

    static let help = """
        usage: skiff serve [--listen HOST:PORT] [--state-dir DIR]

          --listen HOST:PORT   gateway address (env SKIFF_LISTEN; default 0.0.0.0:8080; port 0 picks a free port)
          --state-dir DIR      state: secrets, desired functions, logs (env SKIFF_STATE_DIR; default /var/lib/skiff)
        """

    struct Invalid: Error, CustomStringConvertible {
        let description: String
    }

    /// Parses flags over the environment. Throws with a message that says what to change.
    static func parse(_ arguments: [String], environment: [String: String]) throws -> ServeOptions {
        var options = ServeOptions()
        if let listen = environment["SKIFF_LISTEN"], !listen.isEmpty { options.listen = listen }
        if let state = environment["SKIFF_STATE_DIR"], !state.isEmpty { options.stateDirectory = state }
        var index = 0
        func value(_ flag: String) throws -> String {
            index += 1
            guard index < arguments.count else { throw Invalid(description: "\(flag) needs a value") }
            return arguments[index]
        }
        while index < arguments.count {
            let argument = arguments[index]
            let (flag, inline) = Self.split(argument)
            switch flag {
            case "--listen": options.listen = try inline ?? value(flag)
            case "--state-dir": options.stateDirectory = try inline ?? value(flag)
            default: throw Invalid(description: "unknown option '\(argument)'\n\n\(help)")
            }
            index += 1
        }
        guard SocketAddress(parsing: options.listen) != nil else {
            throw Invalid(
                description: "--listen '\(options.listen)' is not HOST:PORT with an IP address (e.g. 0.0.0.0:8080)")
        }
        guard options.stateDirectory.hasPrefix("/") else {
            throw Invalid(description: "--state-dir must be an absolute path, not '\(options.stateDirectory)'")
        }
        return options
    }

    private static func split(_ argument: String) -> (String, String?) {
        guard argument.hasPrefix("--"), let equals = argument.firstIndex(of: "=") else { return (argument, nil) }
        return (String(argument[..<equals]), String(argument[argument.index(after: equals)...]))
    }
}
