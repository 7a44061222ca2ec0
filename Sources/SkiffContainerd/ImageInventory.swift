import Foundation
import SkiffAPI
import SkiffImage

/// The images of one containerd namespace with the content blobs each holds, so that sizes can be told the way
/// they free disk: an image's own size, and what only it holds (layers shared with another image stay when it
/// goes).
public struct ImageInventory: Sendable {
    public struct Entry: Sendable {
        public var name: String
        public var digest: String
        public var labels: [String: String]
        /// digest → size of every blob of the image present for this machine's platform.
        public var blobs: [String: Int]
        public var size: Int { blobs.values.reduce(0, +) }
    }

    public var namespace: String
    public var entries: [Entry]

    public static func read(_ namespace: String, ctr: Ctr) async throws -> ImageInventory {
        var entries: [Entry] = []
        for image in try await ctr.images(namespace) {
            // An image whose content is partly missing (a pull cut short) still lists, with what is there.
            let blobs = (try? await blobs(of: image.target, namespace: namespace, ctr: ctr)) ?? [:]
            entries.append(Entry(name: image.name, digest: image.target.digest, labels: image.labels, blobs: blobs))
        }
        return ImageInventory(namespace: namespace, entries: entries.sorted { $0.name < $1.name })
    }

    /// Bytes of one image's content (0 when it is not there or cannot be read).
    public static func size(of reference: String, namespace: String, ctr: Ctr) async -> Int {
        guard let target = try? await ctr.image(namespace, reference),
            let blobs = try? await blobs(of: target, namespace: namespace, ctr: ctr)
        else { return 0 }
        return blobs.values.reduce(0, +)
    }

    private static func blobs(of target: Ctr.ImageTarget, namespace: String, ctr: Ctr) async throws -> [String: Int] {
        let decoder = JSONDecoder()
        let top = try await ctr.content(namespace, target.digest)
        var blobs = [target.digest: top.count]
        var manifestBytes = top
        if MediaType.isIndex(target.mediaType) {
            let index = try decoder.decode(ImageIndex.self, from: Data(top))
            guard let chosen = index.manifest(for: .host) else { return blobs }
            manifestBytes = try await ctr.content(namespace, chosen.digest)
            blobs[chosen.digest] = manifestBytes.count
        }
        let manifest = try decoder.decode(ImageManifest.self, from: Data(manifestBytes))
        for descriptor in [manifest.config] + manifest.layers { blobs[descriptor.digest] = descriptor.size }
        return blobs
    }

    /// Bytes of `entry` that no other image of the inventory holds.
    public func uniqueSize(of entry: Entry) -> Int {
        let others = Set(entries.filter { $0.name != entry.name }.flatMap(\.blobs.keys))
        return entry.blobs.filter { !others.contains($0.key) }.values.reduce(0, +)
    }

    public func describe(_ entry: Entry, functions: [String]) -> ImageSummary {
        ImageSummary(
            name: entry.name, namespace: namespace, digest: entry.digest, size: entry.size,
            uniqueSize: uniqueSize(of: entry), functions: functions.sorted(),
            builtAt: entry.labels[ImageSummary.builtAtLabel].flatMap(TimeInterval.init).map {
                Date(timeIntervalSince1970: $0)
            })
    }
}
