import Foundation
import SkiffAPI
import SkiffContainerd
import SkiffHTTP
import SkiffImage
import SkiffLog
import SkiffPOSIX
import Synchronization

/// The images in the functions' namespaces: what uses them, and pruning what nothing uses.
extension ContainerdRuntime {
    /// Keeps a prune from removing the definition's image until `body` has made the function use it.
    func holdingImage(of definition: FunctionDefinition, _ body: () async throws -> Void) async throws {
        let key = ImageLeases.key(definition.namespace, definition.image)
        await imageLeases.acquire(key)
        do {
            try await body()
        } catch {
            await imageLeases.release(key)
            throw error
        }
        await imageLeases.release(key)
    }

    /// This daemon's functions per image name (normalised as containerd names images) in one namespace.
    private func imageUsers(_ namespace: String) async throws -> [String: [String]] {
        var users: [String: [String]] = [:]
        for status in try await list(namespace: namespace) {
            let image = (try? ImageReference(parsing: status.definition.image).description) ?? status.definition.image
            users[image, default: []].append(status.definition.name)
        }
        return users
    }

    /// The images in a function namespace, with their sizes and the functions that use them.
    public func images(namespace: String) async throws -> [ImageSummary] {
        let inventory = try await ImageInventory.read(namespace, ctr: ctr)
        let users = try await imageUsers(namespace)
        return inventory.entries.map { inventory.describe($0, functions: users[$0.name] ?? []) }
    }

    /// Removes the images of a namespace that no function of this daemon, no container and no deploy in
    /// progress uses, oldest build first, as far as `filter` allows.
    public func pruneImages(namespace: String, filter: ImagePruneFilter) async throws -> ImagePruneSummary {
        try await imageLeases.exclusively { [self] leased in
            var inventory = try await ImageInventory.read(namespace, ctr: ctr)
            let users = try await imageUsers(namespace)
            let containers = try await ctr.containerImages(namespace)
            let candidates = inventory.entries.map { inventory.describe($0, functions: []) }.filter { image in
                users[image.name] == nil && !containers.contains(image.name)
                    && !leased.contains(ImageLeases.key(namespace, image.name)) && filter.admits(image)
            }
            var report = ImagePruneSummary()
            for candidate in candidates.sorted(by: ImagePruneFilter.oldestFirst) {
                if filter.enough() { break }
                // Measured now: what this image shares only with images already removed is its own by now.
                guard let entry = inventory.entries.first(where: { $0.name == candidate.name }) else { continue }
                let removed = inventory.describe(entry, functions: [])
                try await ctr.removeImage(namespace, candidate.name)
                inventory.entries.removeAll { $0.name == candidate.name }
                report.removed.append(removed)
                report.reclaimedBytes += removed.uniqueSize
            }
            return report
        }
    }

    /// The namespaces whose images this daemon looks after on its own: the default one and those its functions
    /// live in (another Skiff instance on the same containerd keeps to its own).
    public func managedNamespaces() -> [String] {
        let used = supervisors.withLock { $0.keys.compactMap { $0.split(separator: "/").first.map(String.init) } }
        return Set(used + [configuration.defaultNamespace]).sorted()
    }

    /// Imports an OCI image archive into a namespace (air-gapped devices; tests). Returns the image names.
    public func importImage(archive: String, namespace: String) async throws -> [String] {
        try await images.importArchive(archive, namespace: namespace)
    }
}
