import Foundation
import Testing

@testable import skiff

/// `--metrics-scrape-config`: Prometheus's scrape_configs, the static subset; everything else refused by name.
@Suite("Scrape configuration")
struct ScrapeConfigurationTests {
    @Test func aPrometheusJobIsReadAsTargets() throws {
        let text = """
            scrape_configs:
              - job_name: node
                scrape_interval: 12s
                metrics_path: /probe/metrics
                basic_auth:
                  username: lab
                  password_file: /etc/skiff/node-password
                static_configs:
                  - targets: ["10.0.0.5:9100", "printer.lan:9100"]
                    labels: {room: "b12"}
              - job_name: self
                static_configs:
                  - targets: ['[::1]:8080']
            """
        let configuration = try ScrapeConfiguration.parse(text, roundInterval: .seconds(5)) { path in
            path == "/etc/skiff/node-password" ? "s3cret\n" : nil
        }
        let targets = configuration.targets
        #expect(targets.map(\.instance) == ["10.0.0.5:9100", "printer.lan:9100", "[::1]:8080"])
        #expect(targets[1].host == "printer.lan" && targets[1].port == 9100 && targets[2].host == "::1")
        #expect(targets[0].path == "/probe/metrics" && targets[2].path == "/metrics")
        // 12 s is not a multiple of the 5 s rounds: every third round.
        #expect(targets[0].interval == 15_000 && targets[2].interval == nil)
        #expect(targets[0].labels == ["room": "b12"] && targets[0].job == "node")
        #expect(targets[0].authorization == "Basic " + Data("lab:s3cret".utf8).base64EncodedString())
        #expect(targets[2].authorization == nil)
    }

    @Test(arguments: [
        ("scrape_configs:\n  - job_name: a\n    kubernetes_sd_configs: []\n", "`kubernetes_sd_configs`"),
        ("scrape_configs:\n  - static_configs:\n      - targets: [\"a:1\"]\n", "needs a `job_name`"),
        (
            "scrape_configs:\n  - job_name: a\n    scheme: https\n    static_configs:\n      - targets: [\"a:1\"]\n",
            "only `scheme: http`"
        ),
        ("scrape_configs:\n  - job_name: a\n    static_configs:\n      - targets: [\"a\"]\n", "targets are HOST:PORT"),
        (
            "scrape_configs:\n  - job_name: a\n    static_configs:\n      - targets: [\"a:1\"]\n  - job_name: a\n    static_configs:\n      - targets: [\"b:1\"]\n",
            "given twice"
        ),
        (
            "scrape_configs:\n  - job_name: a\n    basic_auth: {username: u, password_file: /missing}\n    static_configs:\n      - targets: [\"a:1\"]\n",
            "cannot read the password_file"
        ),
        (
            "scrape_configs:\n  - job_name: a\n    scrape_interval: soon\n    static_configs:\n      - targets: [\"a:1\"]\n",
            "scrape_interval"
        ),
        ("global:\n  scrape_interval: 1s\n", "`global`"),
    ])
    func whatSkiffDoesNotReadIsRefusedByName(text: String, words: String) {
        do {
            _ = try ScrapeConfiguration.parse(text, roundInterval: .seconds(5)) { _ in nil }
            Issue.record("accepted: \(text)")
        } catch {
            #expect("\(error)".contains(words), "\(error)")
        }
    }
}
