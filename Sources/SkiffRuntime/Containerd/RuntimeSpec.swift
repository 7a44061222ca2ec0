import SkiffAPI
import SkiffImage

/// The OCI runtime spec (config.json) of a replica, the subset Skiff writes. Built in full here rather than
/// from ctr's flags, because ctr cannot set the hostname, CPU shares or an exact capability set.
struct RuntimeSpec: Codable, Sendable, Equatable {
    var ociVersion = "1.0.2-dev"
    var process: Process
    var root: Root
    var hostname: String
    var mounts: [Mount]
    var linux: Linux

    struct Process: Codable, Sendable, Equatable {
        var terminal = false
        var user: User
        var args: [String]
        var env: [String]
        var cwd: String
        var capabilities: Capabilities
        var rlimits: [Rlimit]?
        var noNewPrivileges = true
        /// Well above the daemon's, containerd's and the shims' (0 or below): under memory pressure the kernel
        /// kills a function before the parts that keep every function running.
        var oomScoreAdj: Int? = RuntimeSpec.functionOOMScoreAdjustment
    }

    struct User: Codable, Sendable, Equatable {
        var uid: UInt32
        var gid: UInt32
        var additionalGids: [UInt32]?
    }

    struct Capabilities: Codable, Sendable, Equatable {
        var bounding: [String]
        var effective: [String]
        var permitted: [String]
    }

    struct Rlimit: Codable, Sendable, Equatable {
        var type: String
        var hard: UInt64
        var soft: UInt64
    }

    struct Root: Codable, Sendable, Equatable {
        var path: String
        var readonly: Bool
    }

    struct Mount: Codable, Sendable, Equatable {
        var destination: String
        var type: String
        var source: String
        var options: [String]
    }

    struct Linux: Codable, Sendable, Equatable {
        var resources: Resources
        var cgroupsPath: String
        var namespaces: [Namespace]
        var maskedPaths: [String]
        var readonlyPaths: [String]
        var seccomp: SeccompProfile? = .default
    }

    struct Resources: Codable, Sendable, Equatable {
        var devices: [DeviceRule]
        var memory: Memory?
        var cpu: CPU?
        var pids: Pids?
    }

    struct DeviceRule: Codable, Sendable, Equatable {
        var allow: Bool
        var access: String
    }

    struct Memory: Codable, Sendable, Equatable {
        var limit: Int64
    }

    struct CPU: Codable, Sendable, Equatable {
        var shares: UInt64?
        var quota: Int64?
        var period: UInt64?
    }

    struct Pids: Codable, Sendable, Equatable {
        var limit: Int64
    }

    struct Namespace: Codable, Sendable, Equatable {
        var type: String
        var path: String?
    }
}

extension RuntimeSpec {
    /// faasd's capability set: only CAP_NET_RAW (ping). No CHOWN, SETUID or NET_BIND_SERVICE: port 8080 needs
    /// none, and a function that must change users is better built to run as that user.
    static let capabilities = ["CAP_NET_RAW"]

    /// CFS period for CPU limits, in microseconds: `limit` cores become `limit × period` of quota.
    static let cpuPeriod: UInt64 = 100_000

    /// See ``Process/oomScoreAdj``: half-way to the most killable.
    static let functionOOMScoreAdjustment = 500

    /// The label that sets a function's own process limit.
    public static let pidsLabel = "com.openfaas.pids"

    /// The function's own `com.openfaas.pids`, when it sets one (a whole number within
    /// ``RuntimeConfiguration/pidsLimitRange``); nil means the daemon's default applies.
    static func labelledPidsLimit(_ labels: [String: String]) throws(FunctionRuntimeError) -> Int? {
        guard let text = labels[pidsLabel] else { return nil }
        let range = RuntimeConfiguration.pidsLimitRange
        guard let value = Int(text), range.contains(value) else {
            throw .invalid(
                "label \(pidsLabel) must be a whole number from \(range.lowerBound) to \(range.upperBound), not '\(text)'"
            )
        }
        return value
    }

    struct Inputs: Sendable {
        var definition: FunctionDefinition
        var image: ImageConfiguration
        var user: User
        var containerID: String
        var rootfs: String
        var networkNamespace: String
        var hostsFile: String
        var resolvFile: String
        /// The replica's projected secrets directory, mounted at /var/openfaas/secrets; nil without secrets.
        var secretsDirectory: String?
        /// `pids.max` unless the function's `com.openfaas.pids` label says otherwise.
        var pidsLimit: Int
    }

    init(_ inputs: Inputs) throws(FunctionRuntimeError) {
        let definition = inputs.definition
        let config = inputs.image.config
        var env = config?.env ?? []
        if !env.contains(where: { $0.hasPrefix("PATH=") }) {
            env.insert("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", at: 0)
        }
        func set(_ key: String, _ value: String) {
            env.removeAll { $0.hasPrefix(key + "=") }
            env.append("\(key)=\(value)")
        }
        for (key, value) in definition.envVars.sorted(by: { $0.key < $1.key }) { set(key, value) }
        if let process = definition.envProcess, definition.envVars["fprocess"] == nil { set("fprocess", process) }
        let args = (config?.entrypoint ?? []) + (config?.cmd ?? [])
        guard !args.isEmpty else {
            throw .invalid("image \(definition.image) has neither Entrypoint nor Cmd; Skiff cannot tell what to run")
        }

        var mounts: [Mount] = [
            Mount(destination: "/proc", type: "proc", source: "proc", options: ["nosuid", "noexec", "nodev"]),
            Mount(
                destination: "/dev", type: "tmpfs", source: "tmpfs",
                options: ["nosuid", "strictatime", "mode=755", "size=65536k"]),
            Mount(
                destination: "/dev/pts", type: "devpts", source: "devpts",
                options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]),
            Mount(
                destination: "/dev/shm", type: "tmpfs", source: "shm",
                options: ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]),
            Mount(
                destination: "/dev/mqueue", type: "mqueue", source: "mqueue", options: ["nosuid", "noexec", "nodev"]),
            Mount(destination: "/sys", type: "sysfs", source: "sysfs", options: ["nosuid", "noexec", "nodev", "ro"]),
            Mount(
                destination: "/run", type: "tmpfs", source: "tmpfs",
                options: ["nosuid", "strictatime", "mode=755", "size=65536k"]),
            Mount(destination: "/etc/hosts", type: "bind", source: inputs.hostsFile, options: ["rbind", "ro"]),
            Mount(destination: "/etc/resolv.conf", type: "bind", source: inputs.resolvFile, options: ["rbind", "ro"]),
        ]
        if definition.readOnlyRootFilesystem {
            // What OpenFaaS does on Kubernetes: a read-only root, but a writable /tmp for lock files and scratch.
            mounts.append(
                Mount(
                    destination: "/tmp", type: "tmpfs", source: "tmpfs",
                    options: ["nosuid", "nodev", "mode=1777", "size=65536k"]))
        }
        if let directory = inputs.secretsDirectory {
            mounts.append(
                Mount(
                    destination: "/var/openfaas/secrets", type: "bind", source: directory,
                    options: ["rbind", "ro", "nosuid", "nodev", "noexec"]))
        }

        var resources = Resources(
            devices: [DeviceRule(allow: false, access: "rwm")],
            pids: Pids(limit: Int64(try Self.labelledPidsLimit(definition.labels) ?? inputs.pidsLimit)))
        if let memory = definition.limits?.memory {
            resources.memory = Memory(limit: try Quantity.memoryBytes(memory, field: "limits.memory"))
        }
        var cpu = CPU()
        if let limit = definition.limits?.cpu {
            let milli = try Quantity.milliCPU(limit, field: "limits.cpu")
            cpu.quota = milli * Int64(Self.cpuPeriod) / 1000
            cpu.period = Self.cpuPeriod
        }
        if let request = definition.requests?.cpu {
            // Kubernetes' conversion: 1 core = 1024 shares, at least 2.
            cpu.shares = UInt64(max(2, try Quantity.milliCPU(request, field: "requests.cpu") * 1024 / 1000))
        }
        if cpu != CPU() { resources.cpu = cpu }

        self.process = Process(
            user: inputs.user, args: args, env: env, cwd: config?.workingDir.flatMap { $0.isEmpty ? nil : $0 } ?? "/",
            capabilities: Capabilities(
                bounding: Self.capabilities, effective: Self.capabilities, permitted: Self.capabilities),
            // No rlimits: the task inherits containerd's (raising them would need CAP_SYS_RESOURCE).
            rlimits: nil)
        self.root = Root(path: inputs.rootfs, readonly: definition.readOnlyRootFilesystem)
        self.hostname = definition.name
        self.mounts = mounts
        self.linux = Linux(
            resources: resources,
            cgroupsPath: "/\(definition.namespace)/\(inputs.containerID)",
            namespaces: [
                Namespace(type: "pid"), Namespace(type: "ipc"), Namespace(type: "uts"), Namespace(type: "mount"),
                Namespace(type: "network", path: inputs.networkNamespace),
            ],
            maskedPaths: [
                "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
                "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi",
            ],
            readonlyPaths: ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"])
    }
}
