import Foundation
import SkiffStack

/// A function template: a folder under `templates/` with `template.yml` (how images are made from it),
/// `image/` (files laid into every image at `workdir`) and `function/` (the starter handler `skiff new` copies).
public struct Template: Sendable, Equatable {
    /// Where the base layers come from.
    public enum Base: Sendable, Equatable {
        /// Made on the spot from the host's busybox-static: needs no registry.
        case busybox
        /// No base: the watchdog and the handler only.
        case scratch
        /// An image reference, found in containerd, pulled, or given as `oci-archive:PATH`.
        case image(String)

        init(_ text: String) {
            switch text {
            case "busybox": self = .busybox
            case "scratch": self = .scratch
            default: self = .image(text)
            }
        }
    }

    /// How the handler's dependencies are installed: `command` runs in a throwaway container of the base image
    /// with the handler folder at /skiff/handler (read-only, the working directory) and writes into /skiff/out,
    /// which becomes a layer at `into`. It runs only when the handler has `file`.
    public struct Dependencies: Sendable, Equatable {
        public var file: String
        public var command: String
        public var into: String
    }

    public var name: String
    public var directory: String
    public var base: Base
    /// The watchdog's environment: mode, fprocess, upstream_url and the like.
    public var watchdog: [String: String]
    public var environment: [String: String]
    public var workdir: String
    public var handlerPath: String
    public var user: String
    /// Files the handler folder must have, e.g. the executable of the `binary` template.
    public var requiredFiles: [String]
    public var dependencies: Dependencies?
    public var description: String

    public struct Invalid: Error, CustomStringConvertible {
        public let description: String
    }

    public init(directory: String) throws {
        let file = directory + "/template.yml"
        guard let data = FileManager.default.contents(atPath: file) else {
            throw Invalid(description: "\(file) is missing; a template folder needs a template.yml")
        }
        let root: YAMLValue
        do {
            root = try YAMLParser.parse(String(decoding: data, as: UTF8.self))
        } catch {
            throw Invalid(description: "\(file): \(error.description)")
        }
        guard case .mapping(let pairs) = root else {
            throw Invalid(description: "\(file): expected a mapping of template settings")
        }
        do {
            var fields = YAMLFields(pairs: pairs, path: "")
            name = try fields.string("language") ?? URL(fileURLWithPath: directory).lastPathComponent
            self.directory = directory
            base = Base(try fields.string("base") ?? "scratch")
            watchdog = try fields.stringMap("watchdog")
            environment = try fields.stringMap("environment")
            workdir = try fields.string("workdir") ?? "/home/app"
            handlerPath = try fields.string("handler_path") ?? workdir + "/function"
            user = try fields.string("user") ?? "1000:1000"
            requiredFiles = try fields.strings("required_files")
            description = try fields.string("description") ?? ""
            if let dependencyPairs = try fields.mapping("dependencies") {
                var dependencyFields = YAMLFields(pairs: dependencyPairs, path: "dependencies.")
                guard let file = try dependencyFields.string("file"),
                    let command = try dependencyFields.string("command"),
                    let into = try dependencyFields.string("into")
                else {
                    throw Invalid(description: "dependencies needs file, command and into")
                }
                try dependencyFields.rejectUnknown()
                dependencies = Dependencies(file: file, command: command, into: into)
            }
            try fields.rejectUnknown()
        } catch let error as any CustomStringConvertible & Error {
            throw Invalid(description: "\(file): \(error.description)")
        }
        guard watchdog["fprocess"] != nil else {
            throw Invalid(description: "\(file): watchdog.fprocess is missing; it names the handler's process")
        }
    }
}
