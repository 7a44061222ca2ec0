import SkiffAPI
import SkiffPOSIX

/// Keeps other hosts from reaching replicas past the gateway. The CNI firewall plugin only adds per-address
/// ACCEPT rules, and a host's FORWARD policy is usually ACCEPT, so a LAN host that routes the functions' subnet
/// via this machine reached every replica's :8080 and :8081 directly, bypassing `--auth-invoke` and the metrics.
///
/// One chain per bridge, `SKIFF-ISO-<bridge>`, jumped to first from FORWARD: packets routed *into* the
/// functions' subnet are dropped unless they come from the bridge itself (replica to replica) or belong to a
/// connection a replica opened (replies). The gateway on this host reaches replicas through OUTPUT, which this
/// never touches. `--expose-replicas` removes the jump instead.
struct ReplicaIsolation: Sendable {
    let bridge: String
    let subnet: Subnet
    var iptables = "/usr/sbin/iptables"

    var chain: String { "SKIFF-ISO-\(bridge)" }

    func apply(expose: Bool) async throws {
        if expose {
            await remove()
            return
        }
        // -N fails when the chain exists; flushing then makes the contents exactly ours again.
        _ = try? await run(["-N", chain], tolerating: true)
        try await run(["-F", chain])
        try await run([
            "-A", chain, "-d", subnet.description, "-o", bridge, "!", "-i", bridge, "-m", "conntrack", "!",
            "--ctstate", "RELATED,ESTABLISHED", "-m", "comment", "--comment", "skiff: replicas only via the gateway",
            "-j", "DROP",
        ])
        if try await run(["-C", "FORWARD", "-j", chain], tolerating: true) == false {
            try await run(["-I", "FORWARD", "1", "-j", chain])
        }
    }

    /// Removes the jump and the chain (`--expose-replicas`, uninstall, tests).
    func remove() async {
        while (try? await run(["-D", "FORWARD", "-j", chain], tolerating: true)) == true {}
        _ = try? await run(["-F", chain], tolerating: true)
        _ = try? await run(["-X", chain], tolerating: true)
    }

    /// Runs iptables (waiting for its lock); with `tolerating`, a failure is reported as false instead of thrown.
    @discardableResult
    private func run(_ arguments: [String], tolerating: Bool = false) async throws -> Bool {
        let outcome: ChildProcess.Outcome
        do {
            outcome = try await ChildProcess(iptables, ["-w"] + arguments, timeout: .seconds(30)).run()
        } catch {
            throw FunctionRuntimeError.system("cannot run \(iptables): \(error); install iptables")
        }
        if outcome.succeeded || tolerating { return outcome.succeeded }
        throw FunctionRuntimeError.system(
            "`iptables \(arguments.joined(separator: " "))` failed: \(outcome.errorText)")
    }
}
