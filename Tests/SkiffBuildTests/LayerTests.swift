import Foundation
import SkiffImage
import Testing

@Suite("layers and archives")
struct LayerTests {
    @Test func directoryLayersAreSortedAndOwnedByTheLayer() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("skiff-layer-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: root + "/b", withIntermediateDirectories: true)
        try "2".write(toFile: root + "/b/two", atomically: true, encoding: .utf8)
        try "1".write(toFile: root + "/a", atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: root + "/c", withDestinationPath: "a")
        var layer = DirectoryLayer()
        try layer.addTree(from: root, to: "srv/app")
        #expect(
            layer.entries.map(\.path) == ["srv", "srv/app", "srv/app/a", "srv/app/b", "srv/app/b/two", "srv/app/c"])
        #expect(layer.entries.allSatisfy { $0.uid == 0 && $0.gid == 0 })
        let files = try TarReader.files(layer.tar())
        #expect(files.keys.sorted() == ["srv/app/a", "srv/app/b/two"])
        #expect(files["srv/app/b/two"].map { Array($0) } == [UInt8(ascii: "2")])
    }

    @Test func specialFilesAreRefused() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("skiff-layer-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        #expect(mkfifo(root + "/pipe", 0o644) == 0)
        var layer = DirectoryLayer()
        #expect(throws: DirectoryLayer.Unsupported.self) { try layer.addTree(from: root, to: "x") }
    }

    @Test func archivesReadBackWithTheirLayersAndConfig() throws {
        var base = TarWriter()
        base.append(.init(path: "etc/hostname", kind: .file(Array("base\n".utf8))))
        let long = String(repeating: "d", count: 120) + "/file"
        base.append(.init(path: long, kind: .file([1, 2, 3])))
        let archive = try OCIArchive(
            reference: try ImageReference(parsing: "base:1"), config: .init(env: ["A=1"], cmd: ["sh"]),
            layers: [base.finish()])
        var image = try OCIImage(archive: archive.bytes)
        #expect(image.configuration.config?.env == ["A=1"] && image.layers.count == 1)
        #expect(try TarReader.files(image.layers[0].bytes)[long].map { Array($0) } == [1, 2, 3])
        // Extending it keeps the base layer byte for byte and lists both diff ids.
        var top = TarWriter()
        top.append(.init(path: "app", kind: .file([9])))
        image.append(layer: top.finish())
        let extended = try OCIArchive(reference: try ImageReference(parsing: "app:1"), image: image)
        let reread = try OCIImage(archive: extended.bytes)
        #expect(reread.layers.count == 2 && reread.layers[0].bytes == image.layers[0].bytes)
        #expect(reread.configuration.rootfs.diffIDs == image.layers.map(\.diffID))
        #expect(
            try OCIArchive(reference: try ImageReference(parsing: "app:1"), image: image).manifestDigest
                == extended.manifestDigest)
    }
}
