import Foundation
import SkiffAPI
import SkiffLog
import SkiffPOSIX

/// When containerd's disk fills up, removes the images `skiff build` made that no function uses any more,
/// oldest first, until the disk is below the low mark again, and logs each one. Images brought in any other
/// way (imported by hand, pulled for a deploy) are never touched: only the user knows whether they matter.
/// Kubelet's image garbage collector works the same way, with the same two marks.
public struct ImageCollector: Sendable {
    public struct Settings: Sendable, Equatable {
        /// The file system containerd keeps its content and snapshots on.
        public var path = "/var/lib/containerd"
        /// Percent of the disk in use at which collection starts; 100 turns it off.
        public var highPercent = 85
        /// Percent it stops at.
        public var lowPercent = 80
        public var interval: Duration = .seconds(300)
        /// A build younger than this is left alone: it is probably about to be deployed.
        public var minimumAge: Duration = .seconds(600)

        public init() {}
    }

    private let runtime: ContainerdRuntime
    private let settings: Settings
    private let logger: Logger

    public init(runtime: ContainerdRuntime, settings: Settings, logger: Logger) {
        self.runtime = runtime
        self.settings = settings
        self.logger = logger
    }

    /// Checks the disk every interval until cancelled.
    public func run() async throws {
        var stuck = false
        while !Task.isCancelled {
            stuck = await collect(reportedStuck: stuck)
            try await Task.sleep(for: settings.interval)
        }
    }

    /// One look at the disk. Returns whether it stays above the high mark with nothing left to remove (said
    /// once, not every interval).
    func collect(reportedStuck: Bool) async -> Bool {
        let path = settings.path
        guard let before = FileSystemUsage(path: path) else {
            if !reportedStuck {
                logger.warning("cannot measure the disk at \(path) for image pruning; set --containerd-root")
            }
            return true
        }
        guard before.percentUsed >= Double(settings.highPercent) else { return false }
        let low = Double(settings.lowPercent)
        let filter = ImagePruneFilter(
            onlyBuilt: true, builtBefore: Date() - settings.minimumAge.seconds,
            enough: { (FileSystemUsage(path: path)?.percentUsed ?? 0) < low })
        var removed = 0
        for namespace in runtime.managedNamespaces() {
            do {
                let report = try await runtime.pruneImages(namespace: namespace, filter: filter)
                for image in report.removed {
                    removed += 1
                    logger.notice(
                        "\(path) was \(before.percentDescription) full (pruning starts at \(settings.highPercent)%): "
                            + "removed image \(image.name) from \(namespace), which no function uses; "
                            + "\(ByteCount.describe(image.uniqueSize)) given back",
                        ["image": image.name, "namespace": namespace, "bytes": String(image.uniqueSize)])
                }
            } catch {
                logger.warning("cannot prune images in \(namespace): \(error)")
            }
        }
        guard let after = FileSystemUsage(path: path), after.percentUsed >= Double(settings.highPercent) else {
            return false
        }
        if removed == 0 && !reportedStuck {
            logger.warning(
                "\(path) is \(after.percentDescription) full and no unused image skiff build made is left to "
                    + "remove; free space there (`skiff images prune` removes every unused image)")
        }
        return removed == 0
    }
}
