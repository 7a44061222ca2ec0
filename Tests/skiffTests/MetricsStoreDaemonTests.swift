import Foundation
import Glibc
import SkiffHTTP
import SkiffPOSIX
import SkiffTestSupport
import Testing

/// The metrics store in a real `skiff serve` with a function in containerd: the gateway's counters and the
/// replica's own metrics (its :8081, scraped) answer PromQL on `/api/v1` behind the admin login, and the
/// invocation count survives a restart of the daemon.
@Suite("Metrics store on a real daemon", .serialized)
struct MetricsStoreDaemonTests {
    static let exporter = """
        # HELP watchdog_test_total A counter the replica exports.
        # TYPE watchdog_test_total counter
        watchdog_test_total{kind="sample"} 42

        """

    /// The first value of an instant query's answer, or nil when it has none.
    static func value(_ admin: AdminClient, _ query: String) async throws -> String? {
        let encoded = query.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? query
        let answer = try await admin.call("GET", "/api/v1/query?query=\(encoded)")
        guard answer.status == 200,
            let object = try? JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as? [String: Any],
            let data = object["data"] as? [String: Any], let result = data["result"] as? [[String: Any]],
            let pair = result.first?["value"] as? [Any]
        else { return nil }
        return pair.last as? String
    }

    @Test(.enabled(if: daemonPartsPresent)) func functionMetricsAreQueryableAndCountsSurviveARestart() async throws {
        let first = try DaemonProcess(arguments: ["--metrics-interval", "1s"])
        var second: DaemonProcess?
        do {
            let port = try await first.readyPort()
            let admin = try AdminClient(daemon: first, port: port)
            let file = try TestImages.file(reference: "docker.io/local/metered:1", metrics: Self.exporter)
            defer { unlink(file) }
            _ = try await ChildProcess("/usr/bin/ctr", ["-n", first.namespace, "images", "import", file]).runChecked()
            let deployed = try await admin.call(
                "POST", "/system/functions",
                json: #"{"service":"metered","image":"local/metered:1","namespace":"\#(first.namespace)"}"#)
            #expect(deployed.status == 200, "\(deployed.text)")
            let function = "metered.\(first.namespace)"
            for _ in 0..<3 {
                let called = try await admin.call("GET", "/function/\(function)")
                #expect(called.status == 200, "\(called.text)")
            }
            // The gateway's counter, read in-process at the next round.
            let counted = try await eventually(timeout: .seconds(60)) {
                try await Self.value(admin, #"sum(gateway_function_invocation_total{function_name="\#(function)"})"#)
                    == "3"
            }
            #expect(counted)
            // The replica's own metrics, scraped from its :8081 with the function's name added.
            let scraped = try await eventually(timeout: .seconds(60)) {
                try await Self.value(admin, #"watchdog_test_total{function_name="\#(function)",job="function"}"#)
                    == "42"
            }
            #expect(scraped)
            #expect(try await Self.value(admin, #"up{function_name="\#(function)"}"#) == "1")
            // The broker's counters are recorded with the gateway's.
            #expect(try await Self.value(admin, "skiff_nats_connections_total") != nil)
            // Behind the admin login by default.
            let anonymous = try await RawHTTP.exchange(port: port, SecurityTests.get("/api/v1/query?query=up"))
            #expect(anonymous.status == 401)
            #expect(try await RawHTTP.exchange(port: port, SecurityTests.get("/-/ready")).status == 200)
            #expect(await first.terminate())

            // The same state: the count goes on from 3, and the API is open with --metrics-query-auth false.
            let restarted = try DaemonProcess(
                continuing: first, arguments: ["--metrics-interval", "1s", "--metrics-query-auth", "false"])
            second = restarted
            let newPort = try await restarted.readyPort()
            let again = try AdminClient(daemon: restarted, port: newPort)
            let listed = try await again.call("GET", "/system/functions?namespace=\(restarted.namespace)")
            #expect(listed.body.contains(#""invocationCount":3"#), "\(listed.body)")
            _ = try await again.call("GET", "/function/\(function)")
            let open = try await eventually(timeout: .seconds(60)) {
                let encoded =
                    #"sum(gateway_function_invocation_total{function_name="\#(function)"})"#
                    .addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
                let answer = try await RawHTTP.exchange(
                    port: newPort, SecurityTests.get("/api/v1/query?query=\(encoded)"))
                return answer.status == 200 && answer.body.contains(#""4"]"#)
            }
            #expect(open, "the counter did not go on from 3 to 4 on an open API")
        } catch {
            await second?.cleanUp()
            await first.cleanUp()
            throw error
        }
        await second?.cleanUp()
        await first.cleanUp()
    }

    /// A job of `--metrics-scrape-config` (a loopback exporter behind basic auth) is scraped with its labels; a job
    /// with the wrong password is `up` 0.
    @Test(.enabled(if: daemonPartsPresent)) func staticTargetsOfTheScrapeConfigAreScraped() async throws {
        let exporter = HTTPServer(
            configuration: HTTPServerConfiguration(host: "127.0.0.1", port: 0), group: testGroup,
            responder: HTTPHandler { request in
                let expected = "Basic " + Data("lab:s3cret".utf8).base64EncodedString()
                guard request.headers["Authorization"] == expected else {
                    return HTTPResponse(status: HTTPStatus(code: 401))
                }
                return HTTPResponse(status: .ok, body: .string("lab_temperature_celsius 21.5\n"))
            })
        let port = try await exporter.start()[0].port
        defer { Task { await exporter.shutdown(gracePeriod: .seconds(1)) } }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("skiff-scrape-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try Data("s3cret\n".utf8).write(to: directory.appendingPathComponent("password"))
        let configuration = directory.appendingPathComponent("scrape.yml")
        try Data(
            """
            scrape_configs:
              - job_name: lab
                basic_auth: {username: lab, password_file: \(directory.appendingPathComponent("password").path)}
                static_configs:
                  - targets: ["127.0.0.1:\(port)"]
                    labels: {room: b12}
              - job_name: wrong
                basic_auth: {username: lab, password: guess}
                static_configs:
                  - targets: ["127.0.0.1:\(port)"]
            """.utf8
        ).write(to: configuration)
        try await withDaemon(arguments: ["--metrics-interval", "1s", "--metrics-scrape-config", configuration.path]) {
            daemon, port in
            let admin = try AdminClient(daemon: daemon, port: port)
            let scraped = try await eventually(timeout: .seconds(60)) {
                try await Self.value(admin, #"lab_temperature_celsius{job="lab",room="b12"}"#) == "21.5"
            }
            #expect(scraped)
            #expect(try await Self.value(admin, #"up{job="lab"}"#) == "1")
            #expect(try await Self.value(admin, #"up{job="wrong"}"#) == "0")
        }
    }
}
