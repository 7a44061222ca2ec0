import Foundation
import SkiffAPI
import SkiffHTTP
import SkiffRuntime

/// /system/images: what `skiff build` and deploys left in a function namespace, and a prune of what no function
/// uses. Behind the admin credentials like the rest of /system.
extension Gateway {
    func addImageRoutes(to router: inout HTTPRouter) throws {
        try router.add(.get, "/system/images") { [self] request in
            let namespace = namespace(request)
            try await requireNamespace(namespace)
            return try JSONBody.response(try await runtime.images(namespace: namespace))
        }
        try router.add(.post, "/system/images/prune") { [self] request in
            let namespace = namespace(request)
            try await requireNamespace(namespace)
            let report = try await runtime.pruneImages(namespace: namespace, filter: ImagePruneFilter())
            for image in report.removed {
                logger.info(
                    "removed image \(image.name) from \(namespace) on request",
                    ["image": image.name, "namespace": namespace, "bytes": String(image.uniqueSize)])
            }
            return try JSONBody.response(report)
        }
    }
}
