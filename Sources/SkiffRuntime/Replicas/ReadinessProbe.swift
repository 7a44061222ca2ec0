import SkiffHTTP

/// How the gateway reaches a ready replica.
enum ReplicaRoute: Sendable, Equatable {
    /// From inside the replica's network namespace, over its own loopback: no bridge, no veth pair and none of
    /// the host's netfilter hooks on the way, which is measurably cheaper per request than the bridge.
    case loopback
    /// Over the bridge to the replica's address: for a function that listens on its address but not on
    /// 127.0.0.1.
    case bridge
}

/// Polls a replica's `/_/health` (the watchdog's, or any server's: only 503 means "not yet") on the function port:
/// first over the replica's own loopback, then, when nothing listens there, over the bridge.
struct ReadinessProbe: Sendable {
    let client: HTTPClient
    let port: Int

    /// Polls until ready or `deadline`; quickly at first, because a cold start waits on this. Returns the route
    /// that answered, or nil when the replica did not become ready in time or stopped living.
    func waitUntilReady(_ replica: Replica, deadline: ContinuousClock.Instant, isAlive: @Sendable () async -> Bool)
        async throws -> ReplicaRoute?
    {
        var delay = Duration.milliseconds(2)
        while ContinuousClock.now < deadline {
            try Task.checkCancellation()
            if let route = await check(replica) { return route }
            guard await isAlive() else { return nil }
            try await Task.sleep(for: delay)
            delay = min(delay * 2, .milliseconds(100))
        }
        return nil
    }

    /// The route is the loopback whenever the function listens there; the bridge only when nothing listens on
    /// the loopback (refused at once). A loopback that is merely slow to answer (a busy machine) is asked again
    /// later rather than traded for the bridge for the replica's whole life.
    func check(_ replica: Replica) async -> ReplicaRoute? {
        await Self.route { route in
            switch route {
            case .loopback:
                await answer(host: "127.0.0.1", networkNamespace: NetworkNamespaces.path(replica.networkNamespace))
            case .bridge: await answer(host: replica.address, networkNamespace: nil)
            }
        }
    }

    /// The decision of `check`, apart from the sockets so that its order of questions can be tested.
    static func route(asking ask: (ReplicaRoute) async -> Answer) async -> ReplicaRoute? {
        switch await ask(.loopback) {
        case .ready: return .loopback
        case .notReady, .noAnswer: return nil
        case .nothingThere:
            guard await ask(.bridge) == .ready else { return nil }
            // A server that binds every address can start listening between the two questions: refused on the
            // loopback, ready on the bridge a moment later. Asking the loopback once more after the bridge said
            // yes tells that apart from a server that really listens on its address alone.
            switch await ask(.loopback) {
            case .ready: return .loopback
            case .nothingThere: return .bridge
            case .notReady, .noAnswer: return nil
            }
        }
    }

    enum Answer: Sendable, Equatable {
        case ready
        /// 503: the watchdog is up, the function not yet.
        case notReady
        /// Refused, or no such network namespace: nothing listens on this route (now).
        case nothingThere
        /// Timed out, reset, or garbled: nothing can be concluded.
        case noAnswer
    }

    private func answer(host: String, networkNamespace: String?) async -> Answer {
        var request = HTTPClientRequest(method: .get, host: host, port: port, target: "/_/health")
        request.networkNamespace = networkNamespace
        do {
            let response = try await client.fetch(request, timeout: .seconds(2), maxBytes: 64 * 1024)
            return response.head.status.code == 503 ? .notReady : .ready
        } catch {
            return Self.answer(for: error)
        }
    }

    /// Only the peer's own refusal (or a namespace that is gone) means nothing listens. A failure on the daemon's
    /// side, such as running out of descriptors, is no answer: taken for a refusal it would send a replica that
    /// listens on its loopback over the bridge for its whole life.
    static func answer(for error: any Error) -> Answer {
        switch error as? HTTPClientError {
        case .connectionRefused, .noSuchNetworkNamespace: .nothingThere
        default: .noAnswer
        }
    }
}
