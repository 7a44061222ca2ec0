import Foundation
import SkiffMetricsStore
import SkiffPOSIX
import SkiffQueue
import SkiffRuntime

/// `skiff serve` settings. Each one can come from a flag, an environment variable or the config file; flags win
/// over the environment, which wins over the file, which wins over the defaults.
struct ServeOptions: Equatable {
    var listen = "0.0.0.0:8080"
    var stateDirectory = "/var/lib/skiff"
    var bridge = "openfaas0"
    var subnet = "10.62.0.0/16"
    var namespace = "openfaas-fn"
    var containerd = "/run/containerd/containerd.sock"
    var cniDirectory = "/usr/lib/cni"
    var logSink = "auto"
    var deployTimeout = "60s"
    var gracePeriod = "30s"
    var upstreamTimeout = "60s"
    var authInvoke = "false"
    var readTimeout = "60s"
    var writeTimeout = "60s"
    var logLevel = "info"
    var maxReplicas = "64"
    var pidsLimit = "1024"
    var exposeReplicas = "false"
    var containerdRoot = "/var/lib/containerd"
    var imageGCHigh = "85"
    var imageGCLow = "80"
    var imageGCInterval = "5m"
    var imageGCMinAge = "10m"
    var natsListen = "127.0.0.1:4222"
    var natsUser = ""
    var natsPassword = ""
    var natsToken = ""
    var asyncMaxBody = "1048576"
    var queue = ""
    var asyncRetryMin = "1s"
    var asyncRetryMax = "2m"
    var asyncMaxAttempts = "10"
    var cronTimezone = "UTC"
    var metricsInterval = "5s"
    var metricsRetention = "15d"
    var metricsRetentionSize = "1GB"
    var metricsQueryAuth = "true"
    var metricsScrapeConfig = ""
    var metricsQueryMaxSamples = "20000000"
    var metricsMaxSeries = "100000"

    /// One setting: its flag, environment variable and config-file key, and where it is stored.
    struct Setting: Sendable {
        let key: String
        let help: String
        let path: any WritableKeyPath<ServeOptions, String> & Sendable
        var flag: String { "--" + key.replacingOccurrences(of: "_", with: "-") }
        var environment: String { "SKIFF_" + key.uppercased() }
    }

    static let settings: [Setting] = [
        Setting(key: "listen", help: "gateway address HOST:PORT (port 0 picks a free one)", path: \.listen),
        Setting(key: "state_dir", help: "secrets, desired state, CNI state, logs", path: \.stateDirectory),
        Setting(key: "bridge", help: "the functions' Linux bridge", path: \.bridge),
        Setting(key: "subnet", help: "the bridge's IPv4 subnet; its first address is the gateway's", path: \.subnet),
        Setting(key: "namespace", help: "default containerd namespace for functions", path: \.namespace),
        Setting(key: "containerd", help: "containerd's socket", path: \.containerd),
        Setting(key: "cni_dir", help: "directory of the CNI plugin binaries", path: \.cniDirectory),
        Setting(key: "log_sink", help: "function logs: auto, journald or files", path: \.logSink),
        Setting(key: "deploy_timeout", help: "how long a deploy waits for ready replicas", path: \.deployTimeout),
        Setting(key: "grace_period", help: "SIGTERM → SIGKILL when a replica stops", path: \.gracePeriod),
        Setting(
            key: "upstream_timeout", help: "longest a call waits for a function (its exec_timeout env wins)",
            path: \.upstreamTimeout),
        Setting(
            key: "read_timeout", help: "a client's request body may stall this long (408 after)", path: \.readTimeout),
        Setting(
            key: "write_timeout", help: "a client may stop reading an answer this long (then closed)",
            path: \.writeTimeout),
        Setting(
            key: "auth_invoke", help: "true: /function/* needs the admin credentials too", path: \.authInvoke),
        Setting(key: "log_level", help: "debug, info, notice, warning or error", path: \.logLevel),
        Setting(
            key: "max_replicas", help: "most replicas one function may have (scale requests above are 400)",
            path: \.maxReplicas),
        Setting(
            key: "pids_limit", help: "most processes in one replica (label com.openfaas.pids overrides)",
            path: \.pidsLimit),
        Setting(
            key: "expose_replicas", help: "true: other hosts may reach replicas directly, past the gateway",
            path: \.exposeReplicas),
        Setting(
            key: "containerd_root", help: "containerd's root directory, whose disk image pruning watches",
            path: \.containerdRoot),
        Setting(
            key: "image_gc_high",
            help: "percent of that disk in use at which unused images skiff build made are removed (100: never)",
            path: \.imageGCHigh),
        Setting(key: "image_gc_low", help: "percent in use at which that pruning stops", path: \.imageGCLow),
        Setting(key: "image_gc_interval", help: "how often the disk is looked at", path: \.imageGCInterval),
        Setting(
            key: "image_gc_min_age", help: "a build younger than this is never pruned (it may be deployed next)",
            path: \.imageGCMinAge),
        Setting(
            key: "nats_listen", help: "the NATS broker's address HOST:PORT; empty or off turns it off",
            path: \.natsListen),
        Setting(
            key: "nats_user", help: "NATS clients authenticate with this user (and nats_password)", path: \.natsUser),
        Setting(key: "nats_password", help: "the NATS user's password", path: \.natsPassword),
        Setting(
            key: "nats_token",
            help: "NATS clients authenticate with this token (beyond loopback the default is "
                + "the one generated into STATE/secrets/nats-token)", path: \.natsToken),
        Setting(
            key: "queue",
            help: "nats://[USER:PASSWORD@]HOST:PORT[,HOST:PORT…]: keep the queues on that NATS cluster with "
                + "JetStream (shared by every daemon given it) instead of in STATE/streams", path: \.queue),
        Setting(
            key: "async_max_body", help: "largest body (bytes) /async-function/ queues; 413 above it",
            path: \.asyncMaxBody),
        Setting(
            key: "async_retry_min", help: "first wait before a queued call is tried again (doubling from there)",
            path: \.asyncRetryMin),
        Setting(key: "async_retry_max", help: "longest wait between tries of a queued call", path: \.asyncRetryMax),
        Setting(
            key: "async_max_attempts", help: "tries of a queued call before it is kept as a dead letter",
            path: \.asyncMaxAttempts),
        Setting(
            key: "cron_timezone",
            help: "the time zone functions' `schedule` annotations are read in (e.g. Europe/Paris)",
            path: \.cronTimezone),
        Setting(
            key: "metrics_interval",
            help: "how often the metrics store records the daemon's metrics and scrapes the functions' watchdogs",
            path: \.metricsInterval),
        Setting(
            key: "metrics_retention", help: "how long the metrics store keeps samples (e.g. 15d, 48h)",
            path: \.metricsRetention),
        Setting(
            key: "metrics_retention_size",
            help: "most disk the metrics store takes (e.g. 512MB, 2GB); the oldest blocks go first; 0: no limit",
            path: \.metricsRetentionSize),
        Setting(
            key: "metrics_query_auth", help: "false: the Prometheus query API (/api/v1) needs no credentials",
            path: \.metricsQueryAuth),
        Setting(
            key: "metrics_max_series",
            help: "series the metrics store's head may hold; samples of new ones beyond are refused and counted",
            path: \.metricsMaxSeries),
        Setting(
            key: "metrics_query_max_samples",
            help: "samples one metrics query may read (16 bytes each in memory); more is refused with 422",
            path: \.metricsQueryMaxSamples),
        Setting(
            key: "metrics_scrape_config",
            help: "a YAML file of more targets for the metrics store, as Prometheus's scrape_configs (static_configs)",
            path: \.metricsScrapeConfig),
    ]

    static let defaultConfigFile = "/etc/skiff/skiff.conf"

    static var help: String {
        let defaults = ServeOptions()
        var text = """
            usage: skiff serve [--config FILE] [OPTIONS]

              --config FILE        settings as `key = value` lines (env SKIFF_CONFIG; default \(defaultConfigFile)
                                   when it exists); flags win over environment, environment over the file

            """
        // One column for every description: the widest flag, then two spaces.
        let width = (settings.map { "  \($0.flag) VALUE".count }.max() ?? 21) + 2
        for setting in settings {
            let left = "  \(setting.flag) VALUE".padding(toLength: width, withPad: " ", startingAt: 0)
            text += "\(left)\(setting.help)\n"
            let value = defaults[keyPath: setting.path]
            text +=
                String(repeating: " ", count: width)
                + "(env \(setting.environment), file key \(setting.key), \(value.isEmpty ? "unset" : "default \(value)"))\n"
        }
        return text
    }

    struct Invalid: Error, CustomStringConvertible {
        let description: String
    }

    /// Parses flags over the environment over the config file. Throws with a message that says what to change.
    /// `readFile` is injectable for tests.
    static func parse(
        _ arguments: [String], environment: [String: String],
        readFile: (String) -> String? = { try? String(contentsOfFile: $0, encoding: .utf8) }
    ) throws -> ServeOptions {
        var flags: [(Setting, String)] = []
        var configFile = environment["SKIFF_CONFIG"].flatMap { $0.isEmpty ? nil : $0 }
        var configRequired = configFile != nil
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            var flag = argument
            var inline: String?
            if argument.hasPrefix("--"), let equals = argument.firstIndex(of: "=") {
                flag = String(argument[..<equals])
                inline = String(argument[argument.index(after: equals)...])
            }
            func value() throws -> String {
                if let inline { return inline }
                index += 1
                guard index < arguments.count else { throw Invalid(description: "\(flag) needs a value") }
                return arguments[index]
            }
            if flag == "--config" {
                configFile = try value()
                configRequired = true
            } else if let setting = settings.first(where: { $0.flag == flag }) {
                flags.append((setting, try value()))
            } else {
                throw Invalid(description: "unknown option '\(argument)'\n\n\(help)")
            }
            index += 1
        }
        var options = ServeOptions()
        let file = configFile ?? defaultConfigFile
        if let text = readFile(file) {
            for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                let content = line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
                let trimmed = content.trimmingCharacters(in: .whitespaces)
                if trimmed.isEmpty { continue }
                let parts = trimmed.split(separator: "=", maxSplits: 1).map {
                    $0.trimmingCharacters(in: .whitespaces)
                }
                guard parts.count == 2, let setting = settings.first(where: { $0.key == parts[0] }) else {
                    throw Invalid(
                        description: "\(file):\(number + 1): expected `key = value` with one of the keys "
                            + settings.map(\.key).joined(separator: ", "))
                }
                options[keyPath: setting.path] = parts[1]
            }
        } else if configRequired {
            throw Invalid(description: "cannot read the config file \(file)")
        }
        for setting in settings {
            if let value = environment[setting.environment], !value.isEmpty { options[keyPath: setting.path] = value }
        }
        for (setting, value) in flags { options[keyPath: setting.path] = value }
        try options.validate()
        return options
    }

    private func validate() throws {
        guard SocketAddress(parsing: listen) != nil else {
            throw Invalid(description: "--listen '\(listen)' is not HOST:PORT with an IP address (e.g. 0.0.0.0:8080)")
        }
        for (name, path) in [
            ("--state-dir", stateDirectory), ("--containerd", containerd), ("--cni-dir", cniDirectory),
        ]
        where !path.hasPrefix("/") {
            throw Invalid(description: "\(name) must be an absolute path, not '\(path)'")
        }
        for (name, value) in [
            ("--auth-invoke", authInvoke), ("--expose-replicas", exposeReplicas),
            ("--metrics-query-auth", metricsQueryAuth),
        ]
        where !["true", "false"].contains(value) {
            throw Invalid(description: "\(name) must be true or false, not '\(value)'")
        }
        guard let replicas = Int(maxReplicas), (1...10_000).contains(replicas) else {
            throw Invalid(description: "--max-replicas must be a whole number from 1 to 10000, not '\(maxReplicas)'")
        }
        let pidsRange = RuntimeConfiguration.pidsLimitRange
        guard let pids = Int(pidsLimit), pidsRange.contains(pids) else {
            throw Invalid(
                description: "--pids-limit must be a whole number from \(pidsRange.lowerBound) to "
                    + "\(pidsRange.upperBound), not '\(pidsLimit)'")
        }
        guard let high = Int(imageGCHigh), (1...100).contains(high) else {
            throw Invalid(description: "--image-gc-high must be a percentage from 1 to 100, not '\(imageGCHigh)'")
        }
        guard let low = Int(imageGCLow), (0..<high).contains(low) else {
            throw Invalid(
                description: "--image-gc-low must be a percentage from 0 to below --image-gc-high (\(high)), "
                    + "not '\(imageGCLow)'")
        }
        guard containerdRoot.hasPrefix("/") else {
            throw Invalid(description: "--containerd-root must be an absolute path, not '\(containerdRoot)'")
        }
        guard ["auto", "journald", "files"].contains(logSink) else {
            throw Invalid(description: "--log-sink must be auto, journald or files, not '\(logSink)'")
        }
        guard !bridge.isEmpty, bridge.utf8.count <= 15, !bridge.contains("/"), !bridge.contains(" ") else {
            throw Invalid(description: "--bridge '\(bridge)' must be a Linux interface name of at most 15 characters")
        }
        if !isNATSOff && SocketAddress(parsing: natsListen) == nil {
            throw Invalid(
                description: "--nats-listen '\(natsListen)' is not HOST:PORT with an IP address (e.g. 127.0.0.1:4222); "
                    + "empty or `off` turns the broker off")
        }
        if !queue.isEmpty {
            do {
                _ = try ClusterAddress(parsing: queue)
            } catch {
                throw Invalid(description: error.description)
            }
        }
        guard let body = Int(asyncMaxBody), (1...(64 << 20)).contains(body) else {
            throw Invalid(
                description: "--async-max-body must be a number of bytes from 1 to 67108864, not '\(asyncMaxBody)'")
        }
        guard let attempts = Int(asyncMaxAttempts), (1...1000).contains(attempts) else {
            throw Invalid(
                description: "--async-max-attempts must be a whole number from 1 to 1000, not '\(asyncMaxAttempts)'")
        }
        guard TimeZone(identifier: cronTimezone) != nil else {
            throw Invalid(description: "--cron-timezone '\(cronTimezone)' is not a time zone (e.g. UTC, Europe/Paris)")
        }
        guard let retention = TimeSeriesStore.Retention.duration(metricsRetention), retention >= 3_600_000 else {
            throw Invalid(
                description: "--metrics-retention must be a duration of an hour or more (e.g. 15d, 48h), not "
                    + "'\(metricsRetention)'")
        }
        guard TimeSeriesStore.Retention.bytes(metricsRetentionSize) != nil else {
            throw Invalid(
                description: "--metrics-retention-size must be a size such as 512MB or 2GB (0: no limit), not "
                    + "'\(metricsRetentionSize)'")
        }
        guard let series = Int(metricsMaxSeries), (100...10_000_000).contains(series) else {
            throw Invalid(
                description:
                    "--metrics-max-series must be a whole number from 100 to 10000000, not '\(metricsMaxSeries)'")
        }
        guard let samples = Int(metricsQueryMaxSamples), (1_000...1_000_000_000).contains(samples) else {
            throw Invalid(
                description: "--metrics-query-max-samples must be a whole number from 1000 to 1000000000, not "
                    + "'\(metricsQueryMaxSamples)'")
        }
        if !metricsScrapeConfig.isEmpty && !metricsScrapeConfig.hasPrefix("/") {
            throw Invalid(description: "--metrics-scrape-config must be an absolute path, not '\(metricsScrapeConfig)'")
        }
        if natsUser.isEmpty != natsPassword.isEmpty {
            throw Invalid(description: "--nats-user and --nats-password go together: give both or neither")
        }
        if !natsUser.isEmpty && !natsToken.isEmpty {
            throw Invalid(description: "give --nats-token or --nats-user and --nats-password, not both")
        }
    }

    /// `--nats-listen` empty or `off`.
    var isNATSOff: Bool { natsListen.isEmpty || natsListen == "off" }
}
