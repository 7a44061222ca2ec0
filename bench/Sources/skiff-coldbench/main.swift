import Foundation
import Glibc
// Cold start of a function at zero replicas, against containerd and runc alone, in one run: each round measures
// (1) Skiff: scale 0 → 1 and the first successful HTTP response from the function, (2) `ctr run --rm` of the same
// image running /bin/true, (3) a bare `runc run` of a bundle of the same root filesystem running /bin/true.
// Rounds interleave the three so machine noise hits them alike. Prints p50/p95 of each and, last,
// ratio=<Skiff p50 ÷ ctr run p50>.
import SkiffAPI
import SkiffHTTP
import SkiffImage
import SkiffLog
import SkiffPOSIX
import SkiffRuntime

let rounds = Int(ProcessInfo.processInfo.environment["ROUNDS"] ?? "") ?? 20
let pid = Int(getpid())
let namespace = "skiff-bench-\(pid)"
let bridge = "skb\(pid % 100000)"
let subnet = "10.249.\(pid % 250).0/24"
let work = FileManager.default.temporaryDirectory.appendingPathComponent("skiff-coldbench-\(pid)").path
let reference = "docker.io/local/coldbench:1"
let here = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("skiff-coldbench: \(message)\n".utf8))
    exit(1)
}

func run(_ executable: String, _ arguments: [String]) async throws -> ChildProcess.Outcome {
    try await ChildProcess(executable, arguments, timeout: .seconds(60)).runChecked()
}

func milliseconds(_ duration: Duration) -> Double { duration.seconds * 1000 }

func percentile(_ values: [Double], _ p: Double) -> Double {
    let sorted = values.sorted()
    return sorted[min(sorted.count - 1, Int((Double(sorted.count - 1) * p).rounded()))]
}

let group = try EventLoopGroup(loopCount: 2)
let client = HTTPClient(group: group)
var configuration = RuntimeConfiguration(
    stateDirectory: "\(work)/state", logCollector: here.appendingPathComponent("skiff").path)
configuration.defaultNamespace = namespace
configuration.bridgeName = bridge
configuration.subnet = subnet
configuration.logSink = .files
configuration.gracePeriod = .seconds(5)
let runtime = try ContainerdRuntime(
    configuration: configuration, group: group,
    logger: Logger(label: "bench", level: .warning, handler: StderrLogHandler()))

// The image: busybox httpd on 8080 behind a shell that stops on SIGTERM.
let layer = try BusyboxLayer.make(files: [
    .init(path: "www", kind: .directory), .init(path: "www/index.html", kind: .file(Array("cold\n".utf8))),
])
let archive = try OCIArchive(
    reference: try ImageReference(parsing: reference),
    config: .init(
        env: ["PATH=/bin"], cmd: ["/bin/sh", "-c", "trap 'exit 0' TERM; httpd -f -p 8080 -h /www & wait"],
        workingDir: "/"),
    layers: [layer])
try FileManager.default.createDirectory(atPath: "\(work)/bundle/rootfs", withIntermediateDirectories: true)
try Data(archive.bytes).write(to: URL(fileURLWithPath: "\(work)/image.tar"))
try Data(layer).write(to: URL(fileURLWithPath: "\(work)/layer.tar"))

var skiffTimes: [Double] = []
var ctrTimes: [Double] = []
var runcTimes: [Double] = []
do {
    try await runtime.start()
    _ = try await runtime.importImage(archive: "\(work)/image.tar", namespace: namespace)
    try await runtime.deploy(FunctionDefinition(name: "cold", namespace: namespace, image: reference), replicas: 0)
    // A runc bundle of the same root filesystem.
    _ = try await run("/usr/bin/tar", ["-xf", "\(work)/layer.tar", "-C", "\(work)/bundle/rootfs"])
    _ = try await run("/usr/sbin/runc", ["spec", "--bundle", "\(work)/bundle"])
    let specURL = URL(fileURLWithPath: "\(work)/bundle/config.json")
    guard var spec = try JSONSerialization.jsonObject(with: Data(contentsOf: specURL)) as? [String: Any],
        var process = spec["process"] as? [String: Any]
    else { fail("runc spec wrote an unexpected config.json") }
    process["terminal"] = false
    process["args"] = ["/bin/true"]
    spec["process"] = process
    try JSONSerialization.data(withJSONObject: spec).write(to: specURL)

    let clock = ContinuousClock()
    for round in 1...rounds {
        // Skiff: scale from zero, then the first 200 from the function.
        let skiff = try await clock.measure {
            let (endpoint, _) = try await runtime.acquireEndpoint(
                name: "cold", namespace: namespace, waitingUpTo: .seconds(30))
            defer { runtime.releaseEndpoint(endpoint) }
            let request = HTTPClientRequest(host: endpoint.host, port: endpoint.port, target: "/index.html")
            while true {
                if let (head, _) = try? await client.fetch(request, timeout: .seconds(5)), head.status.code == 200 {
                    break
                }
            }
        }
        try await runtime.scale(name: "cold", namespace: namespace, replicas: 0)
        let ctr = try await clock.measure {
            _ = try await run(
                "/usr/bin/ctr", ["-n", namespace, "run", "--rm", reference, "coldbench-\(round)", "/bin/true"])
        }
        let runc = try await clock.measure {
            _ = try await run(
                "/usr/sbin/runc", ["--root", "\(work)/runc", "run", "--bundle", "\(work)/bundle", "coldbench-\(round)"])
        }
        skiffTimes.append(milliseconds(skiff))
        ctrTimes.append(milliseconds(ctr))
        runcTimes.append(milliseconds(runc))
        FileHandle.standardError.write(
            Data(
                String(
                    format: "round %2d: skiff %.1f ms, ctr run %.1f ms, runc run %.1f ms\n", round,
                    milliseconds(skiff), milliseconds(ctr), milliseconds(runc)
                ).utf8))
    }
} catch {
    FileHandle.standardError.write(Data("skiff-coldbench: \(error)\n".utf8))
}

// Clean up everything this run created.
try? await runtime.remove(name: "cold", namespace: namespace)
_ = try? await ChildProcess("/usr/bin/ctr", ["-n", namespace, "images", "rm", "--sync", reference]).run()
for _ in 0..<20 {
    if (try? await ChildProcess("/usr/bin/ctr", ["namespaces", "rm", namespace]).run().succeeded) == true { break }
    try? await Task.sleep(for: .milliseconds(250))
}
_ = try? await ChildProcess("/usr/sbin/ip", ["link", "delete", bridge]).run()
try? FileManager.default.removeItem(atPath: work)

guard skiffTimes.count == rounds else { fail("only \(skiffTimes.count) of \(rounds) rounds completed") }
print("cold start over \(rounds) rounds (ms)".padding(toLength: 35, withPad: " ", startingAt: 0) + "      p50      p95")
for (name, values) in [
    ("skiff: scale 0→1 + first 200", skiffTimes), ("ctr run --rm (/bin/true)", ctrTimes),
    ("runc run (/bin/true)", runcTimes),
] {
    let label = name.padding(toLength: 35, withPad: " ", startingAt: 0)
    print(label + String(format: " %8.1f %8.1f", percentile(values, 0.5), percentile(values, 0.95)))
}
print(String(format: "ratio=%.2f", percentile(skiffTimes, 0.5) / percentile(ctrTimes, 0.5)))
