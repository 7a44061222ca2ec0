import Foundation

/// An OpenFaaS stack file (`stack.yml`): where the gateway is, and how each function is built and deployed.
public struct StackFile: Sendable, Equatable {
    public struct Provider: Sendable, Equatable {
        public var name = "openfaas"
        public var gateway: String?
    }

    public struct Resources: Sendable, Equatable {
        public var memory: String?
        public var cpu: String?

        public init(memory: String?, cpu: String?) {
            self.memory = memory
            self.cpu = cpu
        }
    }

    public struct Function: Sendable, Equatable {
        public var name: String
        public var lang: String?
        /// Relative to the stack file's folder.
        public var handler: String?
        public var image: String?
        public var namespace: String?
        public var fprocess: String?
        public var environment: [String: String] = [:]
        public var environmentFiles: [String] = []
        public var secrets: [String] = []
        public var labels: [String: String] = [:]
        public var annotations: [String: String] = [:]
        public var constraints: [String] = []
        public var limits: Resources?
        public var requests: Resources?
        public var readOnlyRootFilesystem = false
        public var buildArgs: [String: String] = [:]
    }

    public struct TemplateSource: Sendable, Equatable {
        public var name: String
        public var source: String?
    }

    public var version: String?
    public var provider = Provider()
    /// In file order.
    public var functions: [Function] = []
    public var templates: [TemplateSource] = []

    public struct Invalid: Error, CustomStringConvertible {
        public let description: String
    }

    /// Reads a stack file's text: environment substitution first, then the YAML subset, then the fields.
    public init(text: String, environment: [String: String]) throws {
        let substituted: String
        do {
            substituted = try EnvironmentSubstitution.apply(text, environment: environment)
        } catch {
            throw Invalid(description: error.description)
        }
        let root: YAMLValue
        do {
            root = try YAMLParser.parse(substituted)
        } catch {
            throw Invalid(description: error.description)
        }
        guard case .mapping(let top) = root else {
            throw Invalid(description: "a stack file is a mapping with `provider:` and `functions:`")
        }
        var fields = YAMLFields(pairs: top, path: "")
        version = try fields.string("version")
        if let provider = try fields.mapping("provider") {
            var providerFields = YAMLFields(pairs: provider, path: "provider.")
            self.provider.name = try providerFields.string("name") ?? "openfaas"
            self.provider.gateway = try providerFields.string("gateway")
            try providerFields.rejectUnknown()
        }
        for (name, value) in try fields.mapping("functions") ?? [] {
            guard case .mapping(let pairs) = value else {
                throw Invalid(description: "functions.\(name) must be a mapping of its settings")
            }
            functions.append(try Self.function(name, pairs))
        }
        if let configuration = try fields.mapping("configuration") {
            var configurationFields = YAMLFields(pairs: configuration, path: "configuration.")
            for item in try configurationFields.sequence("templates") ?? [] {
                guard case .mapping(let pairs) = item else {
                    throw Invalid(description: "configuration.templates items are `- name: NAME` mappings")
                }
                var templateFields = YAMLFields(pairs: pairs, path: "configuration.templates[].")
                guard let name = try templateFields.string("name") else {
                    throw Invalid(description: "configuration.templates items need a name")
                }
                templates.append(TemplateSource(name: name, source: try templateFields.string("source")))
            }
            configurationFields.ignoreRest()
        }
        try fields.rejectUnknown()
    }

    public init(contentsOf path: String, environment: [String: String]) throws {
        guard FileManager.default.fileExists(atPath: path) else {
            throw Invalid(description: "the stack file \(path) does not exist; check the path given with -f")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw Invalid(description: "cannot read the stack file \(path): check its permissions")
        }
        do {
            try self.init(text: String(decoding: data, as: UTF8.self), environment: environment)
        } catch let error as Invalid {
            throw Invalid(description: "\(path): \(error.description)")
        }
    }

    private static func function(_ name: String, _ pairs: [(key: String, value: YAMLValue)]) throws -> Function {
        var fields = YAMLFields(pairs: pairs, path: "functions.\(name).")
        var function = Function(name: name)
        function.lang = try fields.string("lang")
        function.handler = try fields.string("handler")
        function.image = try fields.string("image")
        function.namespace = try fields.string("namespace")
        function.fprocess = try fields.string("fprocess")
        function.environment = try fields.stringMap("environment")
        function.environmentFiles = try fields.strings("environment_file")
        function.secrets = try fields.strings("secrets")
        function.labels = try fields.stringMap("labels")
        function.annotations = try fields.stringMap("annotations")
        function.constraints = try fields.strings("constraints")
        function.limits = try fields.resources("limits")
        function.requests = try fields.resources("requests")
        function.readOnlyRootFilesystem = try fields.boolean("readonly_root_filesystem") ?? false
        function.buildArgs = try fields.stringMap("build_args")
        // Accepted for faas-cli compatibility; they change nothing on a single node.
        for ignored in ["skip_build", "build_options", "platforms", "secrets_file"] { _ = fields.take(ignored) }
        try fields.rejectUnknown()
        return function
    }

    /// Reads an `environment_file` (a YAML file with one `environment:` mapping), as faas-cli does.
    public static func environmentFile(_ path: String) throws -> [String: String] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw Invalid(description: "cannot read the environment_file \(path)")
        }
        do {
            let root = try YAMLParser.parse(String(decoding: data, as: UTF8.self))
            guard case .mapping(let pairs) = root else { return [:] }
            var fields = YAMLFields(pairs: pairs, path: "")
            return try fields.stringMap("environment")
        } catch let error as YAMLError {
            throw Invalid(description: "\(path): \(error.description)")
        }
    }
}

/// Takes typed fields out of a mapping and complains, with the field's path, about wrong types and unknown keys.
public struct YAMLFields {
    private var pairs: [(key: String, value: YAMLValue)]
    public let path: String

    public init(pairs: [(key: String, value: YAMLValue)], path: String) {
        self.pairs = pairs
        self.path = path
    }

    public mutating func take(_ key: String) -> YAMLValue? {
        guard let index = pairs.firstIndex(where: { $0.key == key }) else { return nil }
        return pairs.remove(at: index).value
    }

    public mutating func string(_ key: String) throws -> String? {
        switch take(key) {
        case nil, .null?: return nil
        case .scalar(let text)?: return text
        default: throw StackFile.Invalid(description: "\(path)\(key) must be a single value, not a list or mapping")
        }
    }

    public mutating func boolean(_ key: String) throws -> Bool? {
        guard let text = try string(key) else { return nil }
        switch text.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default: throw StackFile.Invalid(description: "\(path)\(key) must be true or false, not \(text)")
        }
    }

    public mutating func mapping(_ key: String) throws -> [(key: String, value: YAMLValue)]? {
        switch take(key) {
        case nil, .null?: return nil
        case .mapping(let pairs)?: return pairs
        default: throw StackFile.Invalid(description: "\(path)\(key) must be a mapping of `key: value` lines")
        }
    }

    public mutating func sequence(_ key: String) throws -> [YAMLValue]? {
        switch take(key) {
        case nil, .null?: return nil
        case .sequence(let items)?: return items
        default: throw StackFile.Invalid(description: "\(path)\(key) must be a list of `- item` lines")
        }
    }

    public mutating func strings(_ key: String) throws -> [String] {
        try (sequence(key) ?? []).map { item in
            guard case .scalar(let text) = item else {
                throw StackFile.Invalid(description: "\(path)\(key) items must be single values")
            }
            return text
        }
    }

    public mutating func stringMap(_ key: String) throws -> [String: String] {
        var result: [String: String] = [:]
        for (name, value) in try mapping(key) ?? [] {
            switch value {
            case .scalar(let text): result[name] = text
            case .null: result[name] = ""
            default: throw StackFile.Invalid(description: "\(path)\(key).\(name) must be a single value")
            }
        }
        return result
    }

    public mutating func resources(_ key: String) throws -> StackFile.Resources? {
        guard let pairs = try mapping(key) else { return nil }
        var fields = YAMLFields(pairs: pairs, path: "\(path)\(key).")
        let resources = StackFile.Resources(memory: try fields.string("memory"), cpu: try fields.string("cpu"))
        try fields.rejectUnknown()
        return resources
    }

    public mutating func ignoreRest() { pairs.removeAll() }

    public func rejectUnknown() throws {
        guard let first = pairs.first else { return }
        throw StackFile.Invalid(description: "\(path)\(first.key) is not a setting Skiff knows; check its spelling")
    }
}
