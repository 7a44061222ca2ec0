/// GET /system/info. faas-cli's `version` dereferences `provider` and `provider.version` without checks, so
/// both are always objects.
struct GatewayInfo: Encodable, Sendable {
    struct Version: Encodable, Sendable {
        var sha: String
        var release: String
    }

    struct Provider: Encodable, Sendable {
        var provider = "skiff"
        var orchestration = "containerd"
        var version: Version
    }

    var provider: Provider
    var version: Version
    var arch: String

    init(release: String, sha: String) {
        let version = Version(sha: sha, release: release)
        provider = Provider(version: version)
        self.version = version
        #if arch(arm64)
            arch = "arm64"
        #else
            arch = "amd64"
        #endif
    }
}

/// One line of GET /system/logs.
struct LogMessage: Encodable, Sendable {
    var name: String
    var namespace: String
    var instance: String
    var timestamp: String
    var text: String
}
