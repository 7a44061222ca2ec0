import Foundation
import SkiffAPI

/// `skiff images [prune]`: what builds and deploys left in containerd, and removing what no function uses.
enum ImagesCommand: ClientCommand {
    static let usage = "skiff images [list | prune] [-n NS] [--json]"
    static let summary = """
        Lists the images in a function namespace with their size, the bytes only they hold, when skiff build \
        made them and the functions that use them; `prune` removes every image no function uses and says how \
        much it gave back. The daemon also prunes, on its own, unused images skiff build made when containerd's \
        disk fills up (see skiff serve --help, --image-gc-high).
        """
    static let options: [Arguments.Option] = [CommonOptions.gateway, CommonOptions.namespace, CommonOptions.json]

    static func run(_ arguments: Arguments, _ context: ClientContext) async throws -> Int32 {
        let namespace = arguments.value("--namespace")
        let json = arguments.isSet("--json")
        let client = try context.gateway()
        switch arguments.positionals {
        case [], ["list"], ["ls"]:
            if json {
                writeStandardOutput(try await client.imagesBody(namespace: namespace) + [0x0A])
                return 0
            }
            let images = try await client.images(namespace: namespace)
            let now = Date()
            let rows = images.sorted { $0.name < $1.name }.map { image in
                [
                    image.name, ByteCount.describe(image.size), ByteCount.describe(image.uniqueSize),
                    image.builtAt.map { age($0, now: now) } ?? "-",
                    image.functions.isEmpty ? "-" : image.functions.joined(separator: ","),
                ]
            }
            print(table(["Image", "Size", "Unique", "Built", "Functions"], rows))
            let unused = images.filter(\.functions.isEmpty).count
            print(
                "\n" + counted(images.count, "image") + "; " + counted(unused, "image") + " used by no function"
                    + (unused > 0 ? " (`skiff images prune` removes \(unused == 1 ? "it" : "them"))" : ""))
            return 0
        case ["prune"]:
            if json {
                writeStandardOutput(try await client.pruneImagesBody(namespace: namespace) + [0x0A])
                return 0
            }
            let result = try await client.pruneImages(namespace: namespace)
            for image in result.removed {
                print("removed: \(image.name) (\(ByteCount.describe(image.uniqueSize)))")
            }
            print(
                result.removed.isEmpty
                    ? "nothing to remove: every image is used by a function"
                    : "reclaimed \(ByteCount.describe(result.reclaimedBytes)) from "
                        + counted(result.removed.count, "image"))
            return 0
        default:
            throw Arguments.UsageError(
                description: "expected `skiff images`, `skiff images list` or `skiff images prune`")
        }
    }

    static func counted(_ count: Int, _ noun: String) -> String { "\(count) \(noun)\(count == 1 ? "" : "s")" }

    /// "just now", "5 min ago", "3 h ago", "2 days ago".
    static func age(_ date: Date, now: Date) -> String {
        let seconds = max(0, Int(now.timeIntervalSince(date)))
        switch seconds {
        case ..<60: return "just now"
        case ..<3600: return "\(seconds / 60) min ago"
        case ..<172_800: return "\(seconds / 3600) h ago"
        default: return "\(seconds / 86400) days ago"
        }
    }
}
