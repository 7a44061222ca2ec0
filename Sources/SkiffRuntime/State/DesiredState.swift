import Foundation
import SkiffAPI
import SkiffPOSIX

/// What should run, recorded durably: one file per function (`functions/NAMESPACE/NAME.json`), functions at
/// zero replicas included. containerd holds only what runs; after a crash or reboot this is what the runtime
/// restores.
struct FunctionRecord: Codable, Sendable, Equatable {
    var definition: FunctionDefinition
    var replicas: Int
    var createdAt: Date
    /// Changes whenever the definition does; replicas carry it as a label, so an interrupted update is
    /// recognised (replicas of a generation that was never committed are removed at restore).
    var generation: String
}

struct DesiredState: Sendable {
    let directory: String

    init(stateDirectory: String) { directory = "\(stateDirectory)/functions" }

    func save(_ record: FunctionRecord) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        try StateFile.write(
            Array(try encoder.encode(record)),
            to: path(record.definition.namespace, record.definition.name))
    }

    func delete(namespace: String, name: String) throws {
        let file = path(namespace, name)
        guard FileManager.default.fileExists(atPath: file) else { return }
        do {
            try DurableFile.remove(file)
        } catch {
            throw FunctionRuntimeError.system("cannot remove \(file): \(error)")
        }
    }

    /// Every recorded function. A record that cannot be read is reported, not silently dropped.
    func loadAll() -> (records: [FunctionRecord], unreadable: [String]) {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        var records: [FunctionRecord] = []
        var unreadable: [String] = []
        let namespaces = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        for namespace in namespaces.sorted() {
            let files = (try? FileManager.default.contentsOfDirectory(atPath: "\(directory)/\(namespace)")) ?? []
            for file in files.sorted() where file.hasSuffix(".json") {
                let path = "\(directory)/\(namespace)/\(file)"
                // A record written by an older release may hold what this one refuses (a duration beyond
                // today's bounds, say): it is reported and skipped, so the others are restored.
                guard let data = FileManager.default.contents(atPath: path),
                    let record = try? decoder.decode(FunctionRecord.self, from: data),
                    (try? record.definition.validate()) != nil
                else {
                    unreadable.append(path)
                    continue
                }
                records.append(record)
            }
        }
        return (records, unreadable)
    }

    private func path(_ namespace: String, _ name: String) -> String { "\(directory)/\(namespace)/\(name).json" }
}
