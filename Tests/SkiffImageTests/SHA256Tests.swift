import Foundation
import SkiffImage
import SkiffPOSIX
import Testing

@Suite("SHA-256")
struct SHA256Tests {
    @Test(arguments: [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        (
            "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        ),
    ])
    func nistVectors(_ input: String, _ digest: String) {
        #expect(SHA256.hex(Array(input.utf8)) == digest)
    }

    @Test func agreesWithSha256sumAcrossBlockBoundariesAndIncrementalUpdates() async throws {
        var generator = SystemRandomNumberGenerator()
        for length in [55, 56, 63, 64, 65, 1000, 100_003] {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            var process = ChildProcess("/usr/bin/sha256sum", [])
            process.standardInput = bytes
            let expected = String(try await process.runChecked().outputText.prefix(64))
            #expect(SHA256.hex(bytes) == expected, "length \(length)")
            var incremental = SHA256()
            var offset = 0
            while offset < bytes.count {
                let step = min(bytes.count - offset, 1 + offset % 97)
                incremental.update(bytes[offset..<offset + step])
                offset += step
            }
            #expect(incremental.finalizeHex() == expected, "incremental, length \(length)")
        }
    }
}

@Suite("tar and OCI archives")
struct ArchiveTests {
    @Test func tarIsReadByGNUTarWithModesLinksAndLongNames() async throws {
        let longName = "deep/" + String(repeating: "x", count: 120) + ".txt"
        var tar = TarWriter()
        tar.append(.init(path: "tmp", kind: .directory, mode: 0o1777))
        tar.append(.init(path: "bin/tool", kind: .file(Array("#!/bin/sh\n".utf8)), mode: 0o755, uid: 1000, gid: 1000))
        tar.append(.init(path: "bin/alias", kind: .symlink(target: "tool")))
        tar.append(.init(path: longName, kind: .file(Array("long".utf8))))
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("skiff-tar-\(UUID()).tar").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data(tar.finish()).write(to: URL(fileURLWithPath: path))
        let listing = try await ChildProcess("/usr/bin/tar", ["-tvf", path, "--numeric-owner"]).runChecked().outputText
        let lines = listing.split(separator: "\n").map(String.init)
        #expect(lines.count == 4)
        #expect(lines[0].hasPrefix("drwxrwxrwt 0/0"))
        #expect(lines[1].hasPrefix("-rwxr-xr-x 1000/1000") && lines[1].hasSuffix("bin/tool"))
        #expect(lines[2].hasPrefix("lrwxrwxrwx 0/0") && lines[2].hasSuffix("bin/alias -> tool"))
        #expect(lines[3].hasSuffix(longName) && lines[3].contains("1970-01-01"))
    }

    @Test func archivesAreDeterministicAndDescribeTheirBlobs() throws {
        var tar = TarWriter()
        tar.append(.init(path: "hello", kind: .file(Array("hi".utf8))))
        let layer = tar.finish()
        let reference = try ImageReference(parsing: "local/hello:1")
        let config = ImageConfiguration.RunConfig(env: ["PATH=/bin"], cmd: ["/hello"])
        let first = try OCIArchive(reference: reference, config: config, layers: [layer])
        let second = try OCIArchive(reference: reference, config: config, layers: [layer])
        #expect(first.bytes == second.bytes && first.manifestDigest == second.manifestDigest)
        let other = try OCIArchive(
            reference: reference, config: ImageConfiguration.RunConfig(cmd: ["/other"]), layers: [layer])
        #expect(other.manifestDigest != first.manifestDigest)
        let text = String(decoding: first.bytes, as: UTF8.self)
        #expect(text.contains("\"io.containerd.image.name\":\"docker.io/local/hello:1\""))
        #expect(text.contains("sha256:" + SHA256.hex(layer)))
    }

    @Test func chainIDFollowsTheOCIIdentityRule() {
        let one = "sha256:" + String(repeating: "a", count: 64)
        let two = "sha256:" + String(repeating: "b", count: 64)
        let config = ImageConfiguration(config: .init(), diffIDs: [one, two])
        #expect(config.chainID == "sha256:" + SHA256.hex(Array("\(one) \(two)".utf8)))
        #expect(ImageConfiguration(config: .init(), diffIDs: [one]).chainID == one)
    }
}

@Suite("image references")
struct ImageReferenceTests {
    @Test(arguments: [
        ("figlet", "docker.io/library/figlet:latest"),
        ("alexellis/figlet:0.1", "docker.io/alexellis/figlet:0.1"),
        ("docker.io/library/alpine:3.20", "docker.io/library/alpine:3.20"),
        ("index.docker.io/library/alpine", "docker.io/library/alpine:latest"),
        ("ghcr.io/openfaas/figlet:latest", "ghcr.io/openfaas/figlet:latest"),
        ("localhost:5000/fn", "localhost:5000/fn:latest"),
        ("registry.local/a/b/c:v1.2-rc_1", "registry.local/a/b/c:v1.2-rc_1"),
        ("127.0.0.1:5000/fn:1", "127.0.0.1:5000/fn:1"), ("[::1]:5000/fn", "[::1]:5000/fn:latest"),
        ("My-Registry.example.com/fn", "My-Registry.example.com/fn:latest"),
        (
            "alpine@sha256:" + String(repeating: "0", count: 64),
            "docker.io/library/alpine@sha256:" + String(repeating: "0", count: 64)
        ),
    ])
    func normalisesTheDockerWay(_ input: String, _ expected: String) throws {
        #expect(try ImageReference(parsing: input).description == expected)
    }

    @Test(arguments: [
        "", "UPPER/case", "a//b", "name:bad tag", "x@sha256:123", "-lead", "a/b:" + String(repeating: "t", count: 129),
        // The registry host part: the first component names one when it has a '.' or ':' or is localhost.
        "bad_host.example/fn", "-bad.example/fn", "host..example/fn", "host.example:99999/fn", "host.example:/fn",
        "host.example:80x/fn", "evil.example@x/fn", "[::1/fn", "[zz]:5000/fn", "a.b-/fn", "host.example:0/fn",
    ])
    func rejectsWhatContainerdWouldRefuse(_ input: String) {
        #expect(throws: ImageReference.ParseError.self) { try ImageReference(parsing: input) }
    }
}
