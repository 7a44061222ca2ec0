import Foundation

/// Layer entries made from folders and files on the host, deterministically: entries sorted by path, every
/// owner and mtime fixed, only the executable bits of a file's mode kept. Sockets, devices and fifos are
/// refused rather than silently dropped.
public struct DirectoryLayer: Sendable {
    public private(set) var entries: [TarWriter.Entry] = []
    private var directories = Set<String>()
    public let uid: Int
    public let gid: Int

    public init(uid: Int = 0, gid: Int = 0) {
        self.uid = uid
        self.gid = gid
    }

    public struct Unsupported: Error, CustomStringConvertible {
        public let description: String
    }

    /// `path` and its parents as directories (the parents owned by root, `path` by the layer's owner).
    public mutating func addDirectory(_ path: String, mode: UInt32 = 0o755) {
        let components = path.split(separator: "/")
        for depth in components.indices {
            let prefix = components[...depth].joined(separator: "/")
            guard directories.insert(prefix).inserted else { continue }
            let isLast = depth == components.count - 1
            entries.append(
                .init(
                    path: prefix, kind: .directory, mode: isLast ? mode : 0o755, uid: isLast ? uid : 0,
                    gid: isLast ? gid : 0))
        }
    }

    public mutating func addFile(_ path: String, contents: [UInt8], mode: UInt32 = 0o644) {
        addParents(of: path)
        entries.append(.init(path: path, kind: .file(contents), mode: mode, uid: uid, gid: gid))
    }

    /// Copies the tree at `source` to `destination` (the folder itself becomes `destination`). `skipping` names
    /// top-level entries to leave out.
    public mutating func addTree(from source: String, to destination: String, skipping: Set<String> = []) throws {
        addDirectory(destination)
        let manager = FileManager.default
        guard let names = try? manager.contentsOfDirectory(atPath: source) else {
            throw Unsupported(description: "cannot read the folder \(source)")
        }
        for name in names.sorted() where !skipping.contains(name) {
            try addItem(source + "/" + name, as: destination + "/" + name)
        }
    }

    private mutating func addItem(_ source: String, as destination: String) throws {
        let manager = FileManager.default
        let attributes: [FileAttributeKey: Any]
        do {
            attributes = try manager.attributesOfItem(atPath: source)
        } catch {
            throw Unsupported(description: "cannot read \(source): \(error.localizedDescription)")
        }
        let type = attributes[.type] as? FileAttributeType
        let permissions = (attributes[.posixPermissions] as? NSNumber)?.uint32Value ?? 0o644
        switch type {
        case .typeDirectory?:
            try addTree(from: source, to: destination)
        case .typeSymbolicLink?:
            let target = try manager.destinationOfSymbolicLink(atPath: source)
            addParents(of: destination)
            entries.append(.init(path: destination, kind: .symlink(target: target), uid: uid, gid: gid))
        case .typeRegular?:
            guard let data = manager.contents(atPath: source) else {
                throw Unsupported(description: "cannot read \(source)")
            }
            addFile(destination, contents: Array(data), mode: permissions & 0o111 != 0 ? 0o755 : 0o644)
        default:
            throw Unsupported(
                description: "\(source) is not a file, folder or symbolic link; remove it from the handler folder")
        }
    }

    private mutating func addParents(of path: String) {
        let parent = path.split(separator: "/").dropLast().joined(separator: "/")
        if !parent.isEmpty { addDirectory(parent) }
    }

    /// The layer's tar. Entries keep the order they were added in, which the callers make sorted.
    public func tar() -> [UInt8] {
        var writer = TarWriter()
        for entry in entries { writer.append(entry) }
        return writer.finish()
    }
}
