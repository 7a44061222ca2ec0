import Foundation

/// Who this runtime instance is: a random id made once per state directory. Every container and snapshot the
/// instance creates carries it as a label, so that two instances sharing containerd (a test beside a live
/// appliance) never adopt or clean up each other's replicas.
enum InstanceIdentity {
    static func load(stateDirectory: String) throws -> String {
        let path = "\(stateDirectory)/instance-id"
        if let text = try? String(contentsOfFile: path, encoding: .utf8) {
            let id = text.trimmingSpaces()
            if !id.isEmpty && id.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x7a) }) {
                return id
            }
        }
        let id = RandomName.make(length: 10)
        try StateFile.write(Array((id + "\n").utf8), to: path, mode: 0o644)
        return id
    }
}

/// Lowercase letters and digits from the system's random source (replica suffixes, instance ids).
enum RandomName {
    static func make(length: Int) -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789")
        var generator = SystemRandomNumberGenerator()
        return String((0..<length).map { _ in alphabet[Int(generator.next(upperBound: UInt(alphabet.count)))] })
    }
}
