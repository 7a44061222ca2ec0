import SkiffPOSIX
import SkiffTestSupport
import Testing

/// CRC-32C: the standard check value, and slicing by eight agreeing with a byte at a time at every length and
/// alignment.
@Suite("CRC-32C")
struct CRC32CTests {
    @Test func theCheckValueIsCastagnolis() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([UInt8]()) == 0)
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
    }

    @Test func eightBytesAStepAgreeWithOneByteAStep() {
        var random = SeededGenerator(seed: 5)
        for length in 0..<300 {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &random) }
            for start in [0, 1, 3] where start <= length {
                let slice = bytes[start...]
                // A lazy sequence has no contiguous storage: it takes the byte-at-a-time path.
                #expect(CRC32C.checksum(slice) == CRC32C.checksum(slice.lazy.map { $0 }), "length \(length)")
            }
        }
    }
}
