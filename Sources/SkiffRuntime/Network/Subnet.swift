import SkiffAPI

/// An IPv4 subnet in CIDR form (`10.62.0.0/16`); its first host address is the bridge's (the functions'
/// gateway, where Skiff also listens).
public struct Subnet: Sendable, Equatable, CustomStringConvertible {
    public let network: UInt32
    public let prefixLength: Int

    public init(parsing text: String) throws(FunctionRuntimeError) {
        let parts = text.split(separator: "/")
        guard parts.count == 2, let length = Int(parts[1]), (8...30).contains(length),
            let address = Subnet.parseAddress(String(parts[0]))
        else {
            throw .invalid("subnet '\(text)' must be an IPv4 CIDR between /8 and /30, such as 10.62.0.0/16")
        }
        let mask: UInt32 = length == 0 ? 0 : ~UInt32(0) << (32 - length)
        self.network = address & mask
        self.prefixLength = length
    }

    public var description: String { "\(Subnet.format(network))/\(prefixLength)" }

    /// The bridge's address: the first host of the subnet.
    public var gatewayAddress: String { Subnet.format(network + 1) }

    public func contains(_ address: String) -> Bool {
        guard let value = Subnet.parseAddress(address) else { return false }
        let mask: UInt32 = ~UInt32(0) << (32 - prefixLength)
        return value & mask == network
    }

    static func parseAddress(_ text: String) -> UInt32? {
        let octets = text.split(separator: ".", omittingEmptySubsequences: false)
        guard octets.count == 4 else { return nil }
        var value: UInt32 = 0
        for octet in octets {
            guard let byte = UInt8(octet) else { return nil }
            value = value << 8 | UInt32(byte)
        }
        return value
    }

    static func format(_ value: UInt32) -> String {
        "\(value >> 24).\(value >> 16 & 0xff).\(value >> 8 & 0xff).\(value & 0xff)"
    }
}
