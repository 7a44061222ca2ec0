import Foundation
import SkiffStack
import Testing

@Suite("stack.yml")
struct StackFileTests {
    /// The stack file faas-cli 0.18.12 was recorded with (../shared/conformance/faas-cli/stack.yml).
    static let conformanceStack = """
        version: 1.0
        provider:
          name: openfaas
          gateway: http://127.0.0.1:8080

        functions:
          stack-a:
            lang: dockerfile
            handler: ./stack-a
            image: docker.io/functions/alpine:latest
            fprocess: cat
            environment:
              write_debug: "true"
              inline_key: inline-value
            environment_file:
              - env.yml
            secrets:
              - s1
              - s2
            labels:
              team: blue
              com.openfaas.scale.max: "3"
            annotations:
              topic: orders
              description: stack function a
            limits:
              memory: 128Mi
              cpu: 500m
            requests:
              memory: 64Mi
              cpu: 100m
            readonly_root_filesystem: true
            constraints:
              - node.platform.os == linux

          stack-b:
            image: docker.io/functions/figlet:latest
            namespace: openfaas-fn
        """

    @Test func readsFaasCLIsStackFile() throws {
        let stack = try StackFile(text: Self.conformanceStack, environment: [:])
        #expect(stack.version == "1.0")
        #expect(stack.provider.gateway == "http://127.0.0.1:8080")
        #expect(stack.functions.map(\.name) == ["stack-a", "stack-b"])
        let a = stack.functions[0]
        #expect(a.lang == "dockerfile" && a.handler == "./stack-a" && a.fprocess == "cat")
        #expect(a.environment == ["write_debug": "true", "inline_key": "inline-value"])
        #expect(a.environmentFiles == ["env.yml"])
        #expect(a.secrets == ["s1", "s2"])
        #expect(a.labels == ["team": "blue", "com.openfaas.scale.max": "3"])
        #expect(a.annotations["description"] == "stack function a")
        #expect(a.limits == StackFile.Resources(memory: "128Mi", cpu: "500m"))
        #expect(a.requests == StackFile.Resources(memory: "64Mi", cpu: "100m"))
        #expect(a.readOnlyRootFilesystem)
        #expect(a.constraints == ["node.platform.os == linux"])
        #expect(stack.functions[1].namespace == "openfaas-fn")
    }

    @Test func substitutesBeforeParsing() throws {
        let text = """
            provider:
              gateway: ${GATEWAY:-http://127.0.0.1:8080}
            functions:
              fn:
                image: registry.local/fn:${TAG}
            """
        let stack = try StackFile(text: text, environment: ["TAG": "1.2"])
        #expect(stack.provider.gateway == "http://127.0.0.1:8080")
        #expect(stack.functions[0].image == "registry.local/fn:1.2")
    }

    @Test func environmentFilesAreReadAsFaasCLIDoes() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("skiff-stack-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("env.yml").path
        try "environment:\n  from_env_file: file-value\n  write_debug: \"false\"\n".write(
            toFile: file, atomically: true, encoding: .utf8)
        #expect(try StackFile.environmentFile(file) == ["from_env_file": "file-value", "write_debug": "false"])
    }

    @Test(
        "mistakes name the field",
        arguments: [
            ("functions:\n  fn:\n    imagee: x\n", "functions.fn.imagee is not a setting"),
            ("functions:\n  fn:\n    secrets: one\n", "functions.fn.secrets must be a list"),
            ("functions:\n  fn:\n    readonly_root_filesystem: maybe\n", "must be true or false"),
            ("functions:\n  fn:\n    labels: [a]\n", "functions.fn.labels must be a mapping"),
            ("functions:\n  fn:\n   image: x\n  other: 1\n  bad\n", "line 5, column 3"),
            ("- a\n", "a stack file is a mapping"),
        ])
    func mistakes(text: String, words: String) {
        do {
            _ = try StackFile(text: text, environment: [:])
            Issue.record("accepted: \(text)")
        } catch {
            #expect("\(error)".contains(words), "\(error)")
        }
    }
}
