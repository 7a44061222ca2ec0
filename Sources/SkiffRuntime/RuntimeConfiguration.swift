/// Everything that makes one runtime instance independent of another on the same host: its state directory,
/// its bridge and subnet, and the tools it drives. Tests run a second instance beside a live appliance by
/// changing these alone.
public struct RuntimeConfiguration: Sendable {
    /// Desired state, secrets, CNI state, replica files and logs all live below this directory.
    public var stateDirectory: String
    public var defaultNamespace = "openfaas-fn"
    public var containerdAddress = "/run/containerd/containerd.sock"
    public var ctrPath = "/usr/bin/ctr"
    public var ipPath = "/usr/sbin/ip"
    /// Debian installs the CNI plugins here, not in /opt/cni/bin.
    public var cniPluginDirectory = "/usr/lib/cni"
    public var bridgeName = "openfaas0"
    public var subnet = "10.62.0.0/16"
    /// The executable the containerd shim starts to carry each replica's stdout and stderr
    /// (`skiff collect-logs`); it outlives the daemon, so logs keep flowing while Skiff restarts.
    public var logCollector: String
    public var logSink: LogSink = .automatic
    /// Bytes kept per replica log file before it rotates (file sink only).
    public var logFileLimit = 4 * 1024 * 1024
    /// Reads function logs back from journald (journald sink only).
    public var journalctlPath = "/usr/bin/journalctl"
    /// Longest a deploy, update or scale waits for new replicas to become ready.
    public var deployTimeout: Duration = .seconds(60)
    /// Between SIGTERM and SIGKILL when a replica stops, unless the function's `grace_period` env says otherwise.
    public var gracePeriod: Duration = .seconds(30)
    /// Restart back-off after a crash: starts here, doubles, capped at `maximumRestartDelay`.
    public var initialRestartDelay: Duration = .seconds(1)
    public var maximumRestartDelay: Duration = .seconds(30)
    /// Most processes in one replica (`pids.max`), unless the function's `com.openfaas.pids` label says otherwise.
    public var pidsLimit = 1024
    /// What `pidsLimit` and the label may be: enough for a shell and its pipeline, short of what the host has.
    public static let pidsLimitRange = 16...1_000_000
    /// Whether hosts other than this one may reach replicas' addresses directly (past the gateway and its auth).
    public var exposeReplicas = false
    /// Port every function listens on inside its container (the watchdog's).
    public var functionPort = 8080
    /// Port on which the gateway answers; written into functions' `/etc/hosts` as `gateway`.
    public var gatewayPort = 8080

    public init(stateDirectory: String, logCollector: String) {
        self.stateDirectory = stateDirectory
        self.logCollector = logCollector
    }

    public enum LogSink: String, Sendable {
        /// journald when its socket exists, files otherwise.
        case automatic = "auto"
        case journald
        case files
    }
}

extension RuntimeConfiguration {
    /// The functions' network as a CNI conflist, for `skiff install` to leave in /etc/cni/net.d.
    public func cniConflist() throws -> [UInt8] {
        try CNINetwork(
            bridge: bridgeName, subnet: try Subnet(parsing: subnet), pluginDirectory: cniPluginDirectory,
            stateDirectory: stateDirectory
        ).conflist()
    }
}
