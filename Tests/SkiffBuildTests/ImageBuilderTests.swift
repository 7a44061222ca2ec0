import Foundation
import SkiffAPI
import SkiffContainerd
import SkiffImage
import SkiffRuntime
import SkiffTestSupport
import Synchronization
import Testing

@testable import SkiffBuild

/// Builds that need no containerd: busybox and scratch bases, written as OCI archives only.
@Suite("skiff build without containerd")
struct ImageBuilderTests {
    let work = FileManager.default.temporaryDirectory.appendingPathComponent("skiff-build-test-\(UUID())").path
    var watchdog: String {
        URL(fileURLWithPath: skiffBinary()).deletingLastPathComponent().appendingPathComponent("skiff-watchdog").path
    }

    func template(_ name: String) throws -> Template {
        try Template(directory: templatesDirectory + "/" + name)
    }

    func handler(_ files: [String: (String, Int)]) throws -> String {
        let directory = work + "/handler-\(UUID())"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for (name, (text, mode)) in files {
            let path = directory + "/" + name
            try FileManager.default.createDirectory(
                atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: path)
        }
        return directory
    }

    func build(_ template: Template, handler: String, image: String = "fn:latest") async throws
        -> (ImageBuilder.Result, OCIImage)
    {
        let archive = work + "/image-\(UUID()).tar"
        var request = ImageBuilder.Request(
            functionName: "fn", handlerDirectory: handler, template: template, image: image, watchdogBinary: watchdog)
        request.importIntoContainerd = false
        request.outputArchive = archive
        let builder = ImageBuilder(containerd: ContainerdImages(address: "/nonexistent.sock"), scratchDirectory: work)
        let reported = Mutex<[String]>([])
        let result = try await builder.build(request) { event in
            if case .step(let text) = event { reported.withLock { $0.append(text) } }
        }
        let steps = reported.withLock { $0 }
        #expect(steps.contains { $0.hasPrefix("layer: skiff-watchdog") })
        #expect(steps.contains { $0.hasPrefix("wrote: ") })
        let bytes = try #require(FileManager.default.contents(atPath: archive))
        return (result, try OCIImage(archive: Array(bytes)))
    }

    /// ctr's --mount splits at ',' and ':'; a handler folder named to add `src=/,dst=/host` is refused before ctr
    /// runs (here there is no containerd at all, so reaching ctr would fail differently).
    @Test(arguments: ["/tmp/fn,type=bind,src=/,dst=/host", "/tmp/fn:rw", "/tmp/a,b"])
    func mountPathsThatCtrWouldSplitAreRefused(_ path: String) async throws {
        let containerd = ContainerdImages(address: "/nonexistent.sock")
        do {
            _ = try await containerd.runThrowaway(
                image: "busybox", namespace: "ns", command: "true", workingDirectory: "/",
                mounts: [.init(source: path, destination: "/skiff/handler", readOnly: true)])
            Issue.record("\(path) was passed to ctr")
        } catch let error as FunctionRuntimeError {
            #expect(error.description.contains("cannot be passed to ctr --mount"), "\(error)")
        }
    }

    @Test func theShellTemplateBuildsFromBusyboxAloneAndReproducibly() async throws {
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: work) }
        let files = ["handler.sh": ("#!/bin/sh\ncat\n", 0o755), "lib/data.txt": ("x\n", 0o600)]
        let first = try handler(files)
        let (result, image) = try await build(try template("shell"), handler: first)
        // busybox, watchdog, handler.
        #expect(image.layers.count == 3 && result.layers == 3)
        let config = try #require(image.configuration.config)
        #expect(config.entrypoint == ["/usr/bin/skiff-watchdog"])
        #expect(config.env?.contains("fprocess=sh /home/app/function/handler.sh") == true)
        #expect(config.user == "1000:1000" && config.workingDir == "/home/app")
        #expect(image.configuration.created == "1970-01-01T00:00:00Z")
        let watchdogLayer = try TarReader.files(image.layers[1].bytes)
        #expect(watchdogLayer["usr/bin/skiff-watchdog"]?.count == FileManager.default.contents(atPath: watchdog)?.count)
        let handlerLayer = try TarReader.files(image.layers[2].bytes)
        #expect(handlerLayer["home/app/function/handler.sh"].map { Array($0) } == Array("#!/bin/sh\ncat\n".utf8))
        #expect(handlerLayer["home/app/function/lib/data.txt"] != nil)

        // Another folder with the same files, written later (other mtimes): the same digest.
        try await Task.sleep(for: .milliseconds(1100))
        let second = try handler(files)
        let (again, _) = try await build(try template("shell"), handler: second)
        #expect(again.digest == result.digest)
        // One byte of the handler changes the digest.
        let third = try handler(["handler.sh": ("#!/bin/sh\ncat \n", 0o755), "lib/data.txt": ("x\n", 0o600)])
        let (changed, _) = try await build(try template("shell"), handler: third)
        #expect(changed.digest != result.digest)
        // So does the executable bit, which the layer keeps.
        let fourth = try handler(["handler.sh": ("#!/bin/sh\ncat\n", 0o644), "lib/data.txt": ("x\n", 0o600)])
        let (mode, _) = try await build(try template("shell"), handler: fourth)
        #expect(mode.digest != result.digest)
    }

    @Test func theBinaryTemplateNeedsNothingButTheWatchdogAndTheExecutable() async throws {
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: work) }
        let folder = try handler(["handler": ("#!/nothing\n", 0o755)])
        let (_, image) = try await build(try template("binary"), handler: folder)
        #expect(image.layers.count == 2)
        let files = try image.layers.flatMap { try TarReader.files($0.bytes).keys }.sorted()
        #expect(files == ["home/app/function/handler", "usr/bin/skiff-watchdog"])
    }

    @Test func missingHandlerPartsAreReportedBeforeAnythingIsBuilt() async throws {
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: work) }
        let empty = try handler([:])
        await #expect {
            _ = try await build(try template("binary"), handler: empty)
        } throws: { error in
            "\(error)".contains("handler is missing") && "\(error)".contains("binary template needs it")
        }
        await #expect {
            _ = try await build(try template("shell"), handler: work + "/nope")
        } throws: { error in
            "\(error)".contains("does not exist") && "\(error)".contains("skiff new --lang shell fn")
        }
        await #expect {
            _ = try await build(try template("shell"), handler: empty, image: "Bad Name")
        } throws: { error in
            "\(error)".contains("not a valid image name")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: work).allSatisfy { $0.hasPrefix("handler-") })
    }

    @Test func dependencyFilesThatListNothingSkipTheStep() throws {
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: work) }
        let folder = try handler([
            "empty.txt": ("", 0o644), "comments.txt": ("# nothing\n\n  \n", 0o644), "one.txt": ("# x\nsix\n", 0o644),
        ])
        #expect(!ImageBuilder.listsSomething(folder + "/empty.txt"))
        #expect(!ImageBuilder.listsSomething(folder + "/comments.txt"))
        #expect(!ImageBuilder.listsSomething(folder + "/missing.txt"))
        #expect(ImageBuilder.listsSomething(folder + "/one.txt"))
    }
}
