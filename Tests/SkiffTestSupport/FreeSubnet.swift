import Foundation

/// Whether no route of this machine covers `a.b.c.0/24` already (a bridge left behind by a crashed test run holds
/// its subnet until it is deleted; a second bridge with the same subnet sends a test's packets to the wrong one).
public func subnetIsFree(_ a: Int, _ b: Int, _ c: Int) -> Bool {
    // /proc/net/route: Iface, Destination and Mask in hexadecimal, in the kernel's (little-endian) byte order.
    guard let table = try? String(contentsOfFile: "/proc/net/route", encoding: .utf8) else { return true }
    let address = UInt32(a) | UInt32(b) << 8 | UInt32(c) << 16
    for line in table.split(separator: "\n").dropFirst() {
        let fields = line.split(whereSeparator: { $0 == "\t" || $0 == " " })
        guard fields.count >= 8, let destination = UInt32(fields[1], radix: 16),
            let mask = UInt32(fields[7], radix: 16),
            mask != 0
        else { continue }
        // Overlapping: either network contains the other's base address.
        let ours: UInt32 = 0x00FF_FFFF
        if address & mask == destination & mask || destination & ours == address & ours { return false }
    }
    return true
}

/// The first third octet from `start` (wrapping within 0..<250) whose `a.b.X.0/24` no route covers; `start` itself
/// when all are taken.
public func freeThirdOctet(_ a: Int, _ b: Int, from start: Int) -> Int {
    for step in 0..<250 where subnetIsFree(a, b, (start + step) % 250) { return (start + step) % 250 }
    return start % 250
}
