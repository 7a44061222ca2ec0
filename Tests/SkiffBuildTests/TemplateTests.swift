import Foundation
import SkiffBuild
import Testing

/// The checkout's templates/ folder.
let templatesDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("templates").path

@Suite("templates")
struct TemplateTests {
    @Test func theShippedTemplatesParse() throws {
        let locator = TemplateLocator(
            environment: ["SKIFF_TEMPLATES": templatesDirectory], executable: "/nowhere/skiff")
        #expect(try locator.available() == ["binary", "python3-http", "python3-lambda", "shell"])
        let lambda = try locator.template("python3-lambda")
        #expect(lambda.watchdog["mode"] == "http" && lambda.watchdog["upstream_url"] == "http://127.0.0.1:5000")
        #expect(lambda.dependencies?.file == "requirements.txt")
        #expect(lambda.base == .image("docker.io/library/python:3.11-slim-bookworm"))
        let http = try locator.template("python3-http")
        #expect(http.watchdog["mode"] == "http" && http.dependencies != nil)
        let shell = try locator.template("shell")
        #expect(shell.base == .busybox && shell.watchdog["mode"] == nil && shell.requiredFiles == ["handler.sh"])
        let binary = try locator.template("binary")
        #expect(binary.base == .scratch && binary.requiredFiles == ["handler"])
        for name in ["python3-http", "python3-lambda", "shell", "binary"] {
            #expect(FileManager.default.fileExists(atPath: "\(templatesDirectory)/\(name)/function"))
        }
    }

    @Test func theLocatorSaysWhereItLooked() throws {
        let missing = "/nonexistent-\(UUID())"
        let locator = TemplateLocator(environment: ["SKIFF_TEMPLATES": missing], executable: "/nowhere/bin/skiff")
        // The explicit folder comes first, then the installed layouts, then this source tree.
        #expect(locator.candidates.first == missing)
        #expect(locator.candidates.contains("/nowhere/share/skiff/templates"))
        #expect(locator.candidates.contains("/nowhere/templates"))
        #expect(try locator.directory() == templatesDirectory)
        let nothing = TemplateLocator(environment: ["SKIFF_TEMPLATES": missing], executable: "/nowhere/bin/skiff")
        do {
            _ = try nothing.template("cobol")
            Issue.record("found a template that does not exist")
        } catch {
            #expect("\(error)".contains("no template \"cobol\"") && "\(error)".contains("python3-lambda"))
        }
    }

    @Test func aBrokenTemplateNamesItsFile() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("skiff-template-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try "language: x\nwatchdog:\n  mode: http\n".write(
            to: directory.appendingPathComponent("template.yml"), atomically: true, encoding: .utf8)
        #expect(throws: Template.Invalid.self) { try Template(directory: directory.path) }
        try "language: x\nwatchdog: {fprocess: cat}\nbase: busybox\nunknown: 1\n".write(
            to: directory.appendingPathComponent("template.yml"), atomically: true, encoding: .utf8)
        do {
            _ = try Template(directory: directory.path)
            Issue.record("accepted an unknown key")
        } catch {
            #expect("\(error)".contains("template.yml: unknown is not a setting"))
        }
    }
}
