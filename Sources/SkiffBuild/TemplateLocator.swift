import Foundation

/// Finds the templates folder: `SKIFF_TEMPLATES` when set, else beside the installed binary
/// (`BIN/../share/skiff/templates`, as the release installs it, or `BIN/../templates` in an unpacked release),
/// else the source tree this binary was built from. The first folder that exists wins.
public struct TemplateLocator: Sendable {
    public let candidates: [String]

    public init(environment: [String: String], executable: String) {
        var candidates: [String] = []
        if let explicit = environment["SKIFF_TEMPLATES"], !explicit.isEmpty { candidates.append(explicit) }
        let binDirectory = URL(fileURLWithPath: executable).resolvingSymlinksInPath().deletingLastPathComponent()
        candidates.append(binDirectory.appendingPathComponent("../share/skiff/templates").standardized.path)
        candidates.append(binDirectory.appendingPathComponent("../templates").standardized.path)
        // Sources/SkiffBuild/TemplateLocator.swift → the checkout's templates/.
        let sourceRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        candidates.append(sourceRoot.appendingPathComponent("templates").path)
        self.candidates = candidates
    }

    public struct NotFound: Error, CustomStringConvertible {
        public let description: String
    }

    public func directory() throws -> String {
        var isDirectory: ObjCBool = false
        for candidate in candidates
        where FileManager.default.fileExists(atPath: candidate, isDirectory: &isDirectory) && isDirectory.boolValue {
            return candidate
        }
        throw NotFound(
            description: "no templates folder found; looked in \(candidates.joined(separator: ", ")). "
                + "Set SKIFF_TEMPLATES to a folder of templates")
    }

    public func available() throws -> [String] {
        let directory = try directory()
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.filter { FileManager.default.fileExists(atPath: "\(directory)/\($0)/template.yml") }.sorted()
    }

    public func template(_ name: String) throws -> Template {
        let directory = try directory()
        let folder = "\(directory)/\(name)"
        guard FileManager.default.fileExists(atPath: folder + "/template.yml") else {
            let known = (try? available())?.joined(separator: ", ") ?? ""
            throw NotFound(description: "no template \"\(name)\" in \(directory); available: \(known)")
        }
        return try Template(directory: folder)
    }
}
