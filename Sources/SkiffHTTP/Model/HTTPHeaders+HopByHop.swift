extension HTTPHeaders {
    /// Without the hop-by-hop fields (RFC 9110 §7.6.1): those meant for one connection, and any the
    /// `Connection` field names. What a proxy forwards.
    public func removingHopByHop() -> HTTPHeaders {
        var named: [[UInt8]] = []
        forEachField { name, value in
            if HTTPTokens.equalsIgnoringCase(name, "connection") {
                HTTPTokens.forEachListItem(value) { named.append(Array($0)) }
            }
        }
        var copy = self
        copy.filterFields { name in
            if Self.hopByHop.contains(where: { HTTPTokens.equalsIgnoringCase(name, $0) }) { return false }
            return !named.contains { HTTPTokens.equalsIgnoringCase(name, $0) }
        }
        return copy
    }

    private static let hopByHop = [
        "connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer",
        "upgrade", "proxy-authenticate", "proxy-authorization",
    ]
}
