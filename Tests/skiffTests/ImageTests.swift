import Foundation
import SkiffPOSIX
import SkiffTestSupport
import Testing

/// What `skiff build` and deploys leave in containerd: `skiff images` lists it with sizes and users, `skiff
/// images prune` removes what no function uses, and the daemon prunes old unused builds when the disk is full.
@Suite("skiff images and image pruning against a real daemon")
struct ImageTests {
    struct Listed: Decodable {
        var name: String
        var size: Int
        var uniqueSize: Int
        var functions: [String]
        var builtAt: String?
    }

    /// The image names in the daemon's namespace, as containerd has them.
    static func stored(_ session: ToolchainSession) async throws -> Set<String> {
        let listed = try await ChildProcess("/usr/bin/ctr", ["-n", session.daemon.namespace, "images", "ls", "-q"])
            .runChecked()
        return Set(listed.outputText.split(separator: "\n").map(String.init))
    }

    /// `kept` deployed; `dropped` built on a base from an archive and not deployed; an image imported by hand.
    static func prepare(_ session: ToolchainSession) async throws {
        let namespace = session.daemon.namespace
        try await session.login()
        try await session.run(["new", "--lang", "shell", "kept"])
        try await session.run(["up", "-f", "kept.yml", "-n", namespace])
        try await session.run(["new", "--lang", "shell", "dropped"])
        try session.write("#!/bin/sh\necho dropped\n", to: "dropped/handler.sh", mode: 0o755)
        let base = try TestImages.file(reference: "localhost/skiff-test/base:1")
        defer { try? FileManager.default.removeItem(atPath: base) }
        try await session.run(["build", "-f", "dropped.yml", "-n", namespace, "--base", "oci-archive:" + base])
        let imported = try TestImages.file(reference: "localhost/skiff-test/imported:1")
        defer { try? FileManager.default.removeItem(atPath: imported) }
        _ = try await ChildProcess("/usr/bin/ctr", ["-n", namespace, "images", "import", imported]).runChecked()
    }

    @Test(.enabled(if: daemonPartsPresent))
    func imagesShowsSizesAndUsersAndPruneRemovesOnlyWhatNoFunctionUses() async throws {
        try await withToolchainSession { session in
            let namespace = session.daemon.namespace
            try await Self.prepare(session)
            let (kept, dropped) = ("docker.io/library/kept:latest", "docker.io/library/dropped:latest")
            let (base, imported) = ("localhost/skiff-test/base:1", "localhost/skiff-test/imported:1")

            let json = try await session.run(["images", "-n", namespace, "--json"])
            let images = try JSONDecoder().decode([Listed].self, from: Data(json.utf8))
            let byName = Dictionary(uniqueKeysWithValues: images.map { ($0.name, $0) })
            #expect(Set(byName.keys) == [kept, dropped, base, imported])
            #expect(byName[kept]?.functions == ["kept"])
            #expect(byName[dropped]?.functions == [] && byName[imported]?.functions == [])
            // skiff build marks what it imports, the base from an archive included; a hand import is unmarked.
            #expect(byName[kept]?.builtAt != nil && byName[dropped]?.builtAt != nil && byName[base]?.builtAt != nil)
            #expect(byName[imported]?.builtAt == nil)
            // `dropped` shares its base layer with `base`: only its own layers are unique to it.
            let droppedImage = try #require(byName[dropped])
            #expect(droppedImage.uniqueSize > 0 && droppedImage.uniqueSize < droppedImage.size)
            #expect(images.allSatisfy { $0.size > 0 })

            let table = try await session.run(["images", "-n", namespace])
            let lines = table.split(separator: "\n").map(String.init)
            #expect(
                lines.first?.split(separator: " ").filter { !$0.isEmpty } == [
                    "Image", "Size", "Unique", "Built", "Functions",
                ])
            #expect(lines.contains { $0.hasPrefix(kept) && $0.hasSuffix(" kept") && $0.contains("just now") })
            #expect(lines.contains { $0.hasPrefix(imported) && $0.contains(" - ") })
            #expect(table.contains("4 images; 3 images used by no function (`skiff images prune` removes them)"))

            let pruned = try await session.run(["images", "prune", "-n", namespace])
            for name in [dropped, base, imported] { #expect(pruned.contains("removed: \(name) (")) }
            #expect(!pruned.contains("removed: \(kept)"))
            #expect(pruned.contains("reclaimed ") && pruned.contains(" from 3 images"))
            #expect(try await Self.stored(session) == [kept])
            // The function whose image stayed still answers.
            #expect(
                try await session.run(["invoke", "kept", "-n", namespace], input: "x").contains("You sent 1 bytes"))

            try await session.run(["remove", "kept", "-n", namespace])
            let last = try await session.run(["images", "prune", "-n", namespace])
            #expect(last.contains("removed: \(kept) (") && last.contains(" from 1 image\n"))
            #expect(try await Self.stored(session).isEmpty)
            let nothing = try await session.run(["images", "prune", "-n", namespace])
            #expect(nothing.contains("nothing to remove"))

            // A namespace that is not a function namespace is refused, as every /system route refuses it.
            let refused = try await session.skiff(["images", "-n", "no-such-namespace"])
            #expect(refused.exitCode == 1 && refused.errorText.contains("namespace not valid"))
        }
    }

    @Test(.enabled(if: daemonPartsPresent))
    func theDaemonPrunesOldUnusedBuildsWhenTheDiskIsFullAndLeavesEverythingElse() async throws {
        // Every disk is more than 1% full: the daemon is under "pressure" from the start. A build younger than
        // an hour is left alone, so nothing is removed until the test ages `dropped` (and `kept`) by relabelling.
        let settings = [
            "SKIFF_IMAGE_GC_HIGH": "1", "SKIFF_IMAGE_GC_LOW": "0", "SKIFF_IMAGE_GC_INTERVAL": "1s",
            "SKIFF_IMAGE_GC_MIN_AGE": "1h",
        ]
        try await withToolchainSession(daemonEnvironment: settings) { session in
            let namespace = session.daemon.namespace
            try await Self.prepare(session)
            try await session.run(["new", "--lang", "shell", "fresh"])
            try session.write("#!/bin/sh\necho fresh\n", to: "fresh/handler.sh", mode: 0o755)
            try await session.run(["build", "-f", "fresh.yml", "-n", namespace])
            let twoHoursAgo = String(Int(Date().timeIntervalSince1970) - 7200)
            for name in ["docker.io/library/kept:latest", "docker.io/library/dropped:latest"] {
                _ = try await ChildProcess(
                    "/usr/bin/ctr",
                    ["-n", namespace, "images", "label", name, "com.openfaas.skiff.built-at=\(twoHoursAgo)"]
                ).runChecked()
            }
            let logged = await session.daemon.line(containing: "removed image docker.io/library/dropped:latest")
            #expect(logged?.contains("which no function uses") == true, "\(logged ?? "no log line")")
            #expect(logged?.contains("full (pruning starts at 1%)") == true)
            // Removed in the same pass as `dropped` was considered: in use, too young, or not a build stay.
            #expect(
                try await Self.stored(session) == [
                    "docker.io/library/kept:latest", "docker.io/library/fresh:latest", "localhost/skiff-test/base:1",
                    "localhost/skiff-test/imported:1",
                ])
        }
    }
}
