import Synchronization

/// Call ids (`X-Call-Id`) in UUID v4 form without a system call per request: a 128-bit counter-based generator (splitmix64)
/// seeded once from the kernel's random source. Ids must be unique and unguessable enough for tracing, not
/// secret; Foundation's UUID() costs a getrandom(2) and a formatted print on every call.
public enum CallID {
    private static let state = Atomic<UInt64>(SystemRandomNumberGenerator().nextSeed())
    private static let digits = Array("0123456789abcdef".utf8)

    public static func make() -> String {
        let high = mix(state.wrappingAdd(0x9E37_79B9_7F4A_7C15, ordering: .relaxed).newValue)
        let low = mix(state.wrappingAdd(0x9E37_79B9_7F4A_7C15, ordering: .relaxed).newValue)
        // Version 4, variant 10xx.
        let first = (high & ~0xF000) | 0x4000
        let second = (low & ~(0xC000_0000_0000_0000 as UInt64)) | 0x8000_0000_0000_0000
        var bytes = [UInt8]()
        bytes.reserveCapacity(36)
        for (index, shift) in stride(from: 60, through: 0, by: -4).enumerated() {
            if index == 8 || index == 12 { bytes.append(UInt8(ascii: "-")) }
            bytes.append(digits[Int((first >> UInt64(shift)) & 0xF)])
        }
        for (index, shift) in stride(from: 60, through: 0, by: -4).enumerated() {
            if index == 0 || index == 4 { bytes.append(UInt8(ascii: "-")) }
            bytes.append(digits[Int((second >> UInt64(shift)) & 0xF)])
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension SystemRandomNumberGenerator {
    fileprivate func nextSeed() -> UInt64 {
        var generator = self
        return generator.next()
    }
}
