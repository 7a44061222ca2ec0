import Glibc

/// A secret the daemon makes for itself on first start and keeps in a file of root's (the admin password, the
/// NATS token): created whole and durably, 0600 in a 0700 folder, never over an existing file, so that when
/// two starts race the first one's stands.
public enum GeneratedSecret {
    /// The content of `path` without surrounding whitespace, written first with `generate()` when the file does
    /// not exist. Throws when it cannot be created or read, or is empty (with what to do).
    public static func loadOrCreate(at path: String, generate: () -> String = { random() }) throws(GeneratedSecretError)
        -> String
    {
        let directory = DurableFile.parent(of: path)
        if !FileSystem.exists(path) {
            try create(path, in: directory, generate)
        }
        let value = try read(path).trimmingSpaces()
        guard !value.isEmpty else {
            throw GeneratedSecretError("\(path) is empty; delete it and restart skiff to generate a new one")
        }
        return value
    }

    private static func create(_ path: String, in directory: String, _ generate: () -> String)
        throws(GeneratedSecretError)
    {
        do throws(SystemError) {
            try DurableFile.makeDirectories(directory)
            try FileSystem.setMode(directory, 0o700)
            try DurableFile.create(Array((generate() + "\n").utf8), at: path, mode: 0o600)
        } catch {
            // EEXIST: a start racing this one made it first, and its value stands.
            guard error.errno == EEXIST else { throw GeneratedSecretError("cannot create \(path): \(error)") }
        }
    }

    /// Letters and digits from getrandom(2) (SystemRandomNumberGenerator): about 375 bits at the default length.
    public static func random(length: Int = 63) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
        var generator = SystemRandomNumberGenerator()
        return String((0..<length).map { _ in alphabet[Int(generator.next(upperBound: UInt(alphabet.count)))] })
    }

    /// A secret file is a line, not a document: the first 4 KiB.
    private static func read(_ path: String) throws(GeneratedSecretError) -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw GeneratedSecretError("cannot read \(path): \(SystemError(call: "open", errno: errno))")
        }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
        guard count >= 0 else {
            throw GeneratedSecretError("cannot read \(path): \(SystemError(call: "read", errno: errno))")
        }
        return String(decoding: buffer[..<count], as: UTF8.self)
    }
}

public struct GeneratedSecretError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
