import SkiffHTTP

/// A replica is ready once its port accepts a connection and `GET /_/health` answers anything but 503 (a
/// watchdog says "not ready" with 503; servers without a watchdog answer something else, often 404).
struct ReadinessProbe: Sendable {
    let client: HTTPClient
    let port: Int

    /// Polls until ready or `deadline`; quickly at first, because a cold start waits on this.
    func waitUntilReady(_ address: String, deadline: ContinuousClock.Instant, isAlive: () async -> Bool)
        async throws -> Bool
    {
        var delay = Duration.milliseconds(2)
        while ContinuousClock.now < deadline {
            try Task.checkCancellation()
            if await check(address) { return true }
            guard await isAlive() else { return false }
            try await Task.sleep(for: delay)
            delay = min(delay * 2, .milliseconds(100))
        }
        return false
    }

    func check(_ address: String) async -> Bool {
        let request = HTTPClientRequest(method: .get, host: address, port: port, target: "/_/health")
        guard let response = try? await client.fetch(request, timeout: .seconds(2), maxBytes: 64 * 1024) else {
            return false
        }
        return response.head.status.code != 503
    }
}
