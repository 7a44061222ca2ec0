import SkiffNATSClient

extension NATSClient {
    /// A request to `subject` once something has subscribed to it: until then the broker answers at once with no
    /// responders (503), so this waits for the subscription, never for a clock. Nil if nothing subscribed within
    /// the bound (which only ends a test that has already failed).
    public func requestWhenBound(
        _ subject: String, headers: [NATSHeader] = [], payload: String, attempts: Int = 1200
    ) async throws -> NATSMessage? {
        for _ in 0..<attempts {
            let answer = try await request(
                subject, headers: headers, payload: Array(payload.utf8), timeout: .seconds(120))
            if answer?.status != 503 { return answer }
            try await Task.sleep(for: .milliseconds(50))
        }
        return nil
    }
}
