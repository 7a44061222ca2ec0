import Foundation
import SkiffHTTP
import SkiffImage
import SkiffPOSIX
import SkiffTestSupport
import Synchronization
import Testing

/// The whole path over HTTP, against real containers: deploy → list → describe → invoke → scale → scale from
/// zero → update under load → remove, as faas-cli and devices drive it.
@Suite("gateway end to end", .serialized, .enabled(if: RealParts.enabled))
struct GatewayEndToEndTests {
    @Test func deployInvokeScaleUpdateRemove() async throws {
        try await withGateway { gw in
            let ns = gw.namespace
            try await gw.runtime.importImage("docker.io/local/echo:1")
            #expect(
                try await gw.call(.put, "/system/functions", json: gw.deployBody("echo", image: "local/echo:1")).status
                    == 404)
            let deployed = try await gw.call(
                .post, "/system/functions", json: gw.deployBody("echo", image: "local/echo:1"))
            #expect(deployed.status == 200, "\(deployed.text)")

            // List and describe, with Go's JSON shapes.
            let list = try #require(try await gw.call(.get, "/system/functions").json() as? [[String: Any]])
            #expect(list.count == 1)
            #expect(list.first?["name"] as? String == "echo" && list.first?["image"] as? String == "local/echo:1")
            #expect(list.first?["namespace"] as? String == ns)
            #expect(list.first?["replicas"] as? Int == 1 && list.first?["availableReplicas"] as? Int == 1)
            #expect((list.first?["labels"] as? [String: String]) == [:] && list.first?["envVars"] == nil)
            #expect((list.first?["createdAt"] as? String)?.hasSuffix("Z") == true)
            let described = try await gw.call(.get, "/system/function/echo?namespace=\(ns)&usage=1")
            #expect(described.status == 200)
            let status = try #require(try described.json() as? [String: Any])
            #expect(status["availableReplicas"] as? Int == 1 && status["usage"] != nil)
            let missing = try await gw.call(.get, "/system/function/nope")
            #expect(missing.status == 404 && missing.body.isEmpty)

            // Invoke: sub-path, raw query, forwarded headers, call id, binary and large bodies.
            let index = try await gw.call(.get, "/function/echo/index.html", auth: false)
            #expect(index.status == 200 && index.text == "hello from skiff\n")
            #expect(index.headers["X-Call-Id"]?.count == 36 && index.headers["X-Served-By"] == "skiff/test")
            #expect(Int64(index.headers["X-Start-Time"] ?? "") != nil)
            let headers = try await gw.call(
                .get, "/function/echo.\(ns)/cgi-bin/info?headers", auth: false, headers: [("X-Call-Id", "given-id")])
            #expect(
                headers.text.contains("HTTP_X_CALL_ID=given-id")
                    && headers.text.contains("HTTP_X_FORWARDED_FOR=127.0.0.1"))
            #expect(headers.text.contains("HTTP_X_FORWARDED_HOST=127.0.0.1:\(gw.port)"))
            #expect(headers.headers["X-Call-Id"] == nil)
            // The proxy dials the replica from inside its network namespace, over the replica's own loopback.
            #expect(try await gw.call(.get, "/function/echo/cgi-bin/info?peer", auth: false).text == "127.0.0.1\n")
            let binary = (0...255).map { UInt8($0) }
            let echoed = try await gw.call(.post, "/function/echo/cgi-bin/info?body", body: binary, auth: false)
            #expect(echoed.body == binary)
            var seed = [UInt8](repeating: 0, count: 1 << 20)
            var generator = SystemRandomNumberGenerator()
            for index in seed.indices { seed[index] = UInt8.random(in: 0...255, using: &generator) }
            var large: [UInt8] = []
            for round in 0..<24 { large += seed.map { $0 ^ UInt8(round) } }
            let hashed = try await gw.call(.post, "/function/echo/cgi-bin/info?sha", body: large, auth: false)
            #expect(hashed.text.hasPrefix(SHA256.hex(large)))

            // Scale to 3: requests spread over the three replicas.
            #expect(
                try await gw.call(.post, "/system/scale-function/echo", json: #"{"serviceName":"echo","replicas":3}"#)
                    .status == 202)
            var replicas = Set<String>()
            for _ in 0..<12 {
                replicas.insert(try await gw.call(.get, "/function/echo/cgi-bin/info?whoami", auth: false).text)
            }
            #expect(replicas.count == 3, "\(replicas)")

            // Scale to 0, then the next request scales from zero.
            #expect(
                try await gw.call(.post, "/system/scale-function/echo", json: #"{"serviceName":"echo","replicas":0}"#)
                    .status == 202)
            #expect(gw.runtime.runtime.endpoints(name: "echo", namespace: ns).isEmpty)
            #expect(try await gw.call(.get, "/function/echo/index.html", auth: false).status == 200)

            // Update under load: not one request fails.
            let stop = Atomic<Bool>(false)
            let load = Task { () -> (Int, Int) in
                var ok = 0
                var failed = 0
                let deadline = ContinuousClock.now + .seconds(60)
                while !stop.load(ordering: .acquiring) && ContinuousClock.now < deadline {
                    let answer = try? await gw.call(.get, "/function/echo/index.html", auth: false)
                    if answer?.status == 200 { ok += 1 } else { failed += 1 }
                }
                return (ok, failed)
            }
            let updated = try await gw.call(
                .put, "/system/functions",
                json: gw.deployBody("echo", image: "local/echo:1", extra: #","envVars":{"V":"2"}"#))
            #expect(updated.status == 200, "\(updated.text)")
            try await Task.sleep(for: .milliseconds(200))
            stop.store(true, ordering: .releasing)
            let (ok, failed) = await load.value
            // How many calls fit in the update depends on the machine; that none failed does not.
            #expect(ok > 0 && failed == 0, "ok \(ok), failed \(failed)")
            #expect(try await gw.call(.get, "/function/echo/cgi-bin/info?env", auth: false).text.contains("V=2"))

            // Remove: gone, and the function's URL answers 404.
            #expect(try await gw.call(.delete, "/system/functions", json: #"{"functionName":"echo"}"#).status == 200)
            let after = try await gw.call(.get, "/function/echo/index.html", auth: false)
            #expect(after.status == 404 && after.headers["X-OpenFaaS-Internal"] == "proxy")
            #expect(try await gw.call(.delete, "/system/functions", json: #"{"functionName":"echo"}"#).status == 404)
            #expect(try await gw.runtime.containerIDs().isEmpty)
        }
    }

    /// A replica stays counted busy until its answer has been relayed to the end, so an update that retires it
    /// waits for a stream in progress instead of cutting it off after the head.
    @Test func aStreamInProgressOutlivesAnUpdateOfItsFunction() async throws {
        try await withGateway { gw in
            try await gw.runtime.importImage("docker.io/local/stream:1")
            let deployed = try await gw.call(
                .post, "/system/functions", json: gw.deployBody("stream", image: "local/stream:1"))
            #expect(deployed.status == 200, "\(deployed.text)")
            let old = try #require(gw.runtime.runtime.endpoints(name: "stream", namespace: gw.namespace).first)

            let response = try await testClient.execute(
                HTTPClientRequest(host: "127.0.0.1", port: gw.port, target: "/function/stream/cgi-bin/info?stream"),
                timeout: .seconds(30))
            #expect(response.status.code == 200)
            var chunks = response.body.makeAsyncIterator()
            var received = ""
            while !received.contains("line 1"), let chunk = try await chunks.next() {
                received += String(decoding: chunk, as: UTF8.self)
            }
            let updated = try await gw.call(
                .put, "/system/functions",
                json: gw.deployBody("stream", image: "local/stream:1", extra: #","envVars":{"V":"2"}"#))
            #expect(updated.status == 200, "\(updated.text)")
            while let chunk = try await chunks.next() { received += String(decoding: chunk, as: UTF8.self) }
            #expect(received == "line 1\nline 2\nline 3\nline 4\n")
            // And the old replica did go once its stream had ended.
            let oldGone = await eventually(timeout: .seconds(60)) {
                !((try? await gw.runtime.containerIDs()) ?? [old.id]).contains(old.id)
            }
            #expect(oldGone)
        }
    }

    @Test func authEveryBadInputAndNothingLeftBehind() async throws {
        try await withGateway { gw in
            try await gw.runtime.importImage("docker.io/local/bad:1")
            // Auth: /system needs the admin password; invocations do not.
            for header in [nil, "Bearer", "Basic " + Data("admin:wrong".utf8).base64EncodedString()] {
                let answer = try await gw.call(
                    .get, "/system/functions", auth: header == nil ? false : true,
                    headers: header.map { [("Authorization", $0)] } ?? [])
                #expect(answer.status == 401 && answer.text == "invalid credentials")
                #expect(answer.headers["WWW-Authenticate"] == "Basic realm=\"Restricted\"")
            }
            let password = try String(
                contentsOfFile: "\(gw.runtime.stateDirectory)/secrets/basic-auth-password", encoding: .utf8)
            #expect(password.trimmingCharacters(in: .whitespacesAndNewlines).count >= 32)
            let mode =
                try FileManager.default.attributesOfItem(
                    atPath: "\(gw.runtime.stateDirectory)/secrets/basic-auth-password")[.posixPermissions] as? Int
            #expect(mode == 0o600)

            let cases: [(String, Int, String)] = [
                ("{not json", 400, "invalid JSON"),
                (#"{"image":"local/bad:1"}"#, 400, "service"),
                (gw.deployBody("Bad_Name", image: "local/bad:1"), 400, "DNS-1123"),
                (gw.deployBody("a.b", image: "local/bad:1"), 400, "must not contain '.'"),
                (
                    gw.deployBody("bad", image: "local/bad:1", extra: #","limits":{"memory":"lots"}"#), 400,
                    "limits.memory"
                ),
                (gw.deployBody("bad", image: "local/bad:1", extra: #","limits":{"cpu":"fast"}"#), 400, "limits.cpu"),
                (
                    gw.deployBody("bad", image: "local/bad:1", extra: #","secrets":["nope"]"#), 400,
                    "unable to find secret: nope"
                ),
                (gw.deployBody("bad", image: "127.0.0.1:1/missing:1"), 400, "nor pullable"),
                (
                    #"{"service":"bad","image":"local/bad:1","namespace":"nowhere"}"#, 400, "namespace not valid"
                ),
                (
                    gw.deployBody("bad", image: "local/bad:1", labels: #"{"com.openfaas.scale.min":"x"}"#), 400,
                    "scale.min"
                ),
            ]
            for (body, status, message) in cases {
                let answer = try await gw.call(.post, "/system/functions", json: body)
                #expect(
                    answer.status == status && answer.text.contains(message),
                    "\(body) → \(answer.status) \(answer.text)")
                #expect(answer.headers["Content-Type"] == "text/plain; charset=utf-8")
            }
            #expect(try await gw.runtime.containerIDs().isEmpty && gw.runtime.allocatedAddresses().isEmpty)
            #expect(
                try await gw.call(.post, "/system/functions", json: gw.deployBody("bad", image: "local/bad:1")).status
                    == 200)
            let again = try await gw.call(.post, "/system/functions", json: gw.deployBody("bad", image: "local/bad:1"))
            #expect(again.status == 409 && again.text.contains("already exists"))
            let scale = try await gw.call(
                .post, "/system/scale-function/bad", json: #"{"serviceName":"other","replicas":1}"#)
            #expect(scale.status == 400)
            #expect(
                try await gw.call(.post, "/system/scale-function/none", json: #"{"serviceName":"none","replicas":1}"#)
                    .status == 404)
            #expect(try await gw.call(.get, "/function/none", auth: false).status == 404)
            #expect(try await gw.call(.get, "/system/nothing").status == 404)
            #expect(try await gw.call(.patch, "/system/functions").status == 405)
        }
    }

    @Test func invocationsCanBeMadeToNeedTheAdminCredentials() async throws {
        try await withGateway(authInvoke: true) { gw in
            try await gw.runtime.importImage("docker.io/local/closed:1")
            #expect(
                try await gw.call(.post, "/system/functions", json: gw.deployBody("closed", image: "local/closed:1"))
                    .status == 200)
            let refused = try await gw.call(.get, "/function/closed/index.html", auth: false)
            #expect(refused.status == 401 && refused.headers["WWW-Authenticate"] == "Basic realm=\"Restricted\"")
            #expect(try await gw.call(.get, "/function/closed/index.html").status == 200)
            // The gateway consumed the credentials it checked: the function never sees them.
            let seen = try await gw.call(.get, "/function/closed/cgi-bin/info?headers")
            #expect(seen.status == 200 && !seen.text.contains("HTTP_AUTHORIZATION"), "\(seen.text)")
            #expect(try await gw.call(.get, "/healthz", auth: false).status == 200)
        }
    }

    @Test func secretsAreFilesTheFunctionReads() async throws {
        try await withGateway { gw in
            let ns = gw.namespace
            try await gw.runtime.importImage("docker.io/local/sec:1")
            #expect(
                try await gw.call(.post, "/system/secrets", json: #"{"name":"api-key","value":"one"}"#).status == 200)
            #expect(try await gw.call(.post, "/system/secrets", json: #"{"name":"api-key","value":"x"}"#).status == 409)
            #expect(try await gw.call(.put, "/system/secrets", json: #"{"name":"nosuch","value":"x"}"#).status == 404)
            #expect(try await gw.call(.post, "/system/secrets", json: #"{"name":"../etc","value":"x"}"#).status == 400)
            #expect(try await gw.call(.post, "/system/secrets", json: #"{"name":"","value":"x"}"#).status == 400)
            let raw = Data([0, 1, 2, 255]).base64EncodedString()
            #expect(
                try await gw.call(.post, "/system/secrets", json: #"{"name":"blob","rawValue":"\#(raw)"}"#).status
                    == 200)
            let listed = try await gw.call(.get, "/system/secrets")
            #expect(listed.text == #"[{"name":"api-key","namespace":"\#(ns)"},{"name":"blob","namespace":"\#(ns)"}]"#)
            let file = "\(gw.runtime.stateDirectory)/secrets/\(ns)/blob"
            #expect(FileManager.default.contents(atPath: file).map(Array.init) == [0, 1, 2, 255])

            let body = gw.deployBody("sec", image: "local/sec:1", extra: #","secrets":["api-key"]"#)
            #expect(try await gw.call(.post, "/system/functions", json: body).status == 200)
            #expect(try await gw.call(.get, "/function/sec/cgi-bin/info?secret=api-key", auth: false).text == "one")
            #expect(
                try await gw.call(.put, "/system/secrets", json: #"{"name":"api-key","value":"two"}"#).status == 200)
            #expect(try await gw.call(.get, "/function/sec/cgi-bin/info?secret=api-key", auth: false).text == "two")
            // A secret in use cannot be deleted: 409 names the function, and the secret stays.
            let inUse = try await gw.call(.delete, "/system/secrets", json: #"{"name":"api-key"}"#)
            #expect(inUse.status == 409 && inUse.text.contains("used by sec"), "\(inUse.status) \(inUse.text)")
            #expect(try await gw.call(.get, "/function/sec/cgi-bin/info?secret=api-key", auth: false).text == "two")
            #expect(try await gw.call(.delete, "/system/secrets", json: #"{"name":"blob"}"#).status == 200)
            #expect(try await gw.call(.delete, "/system/secrets", json: #"{"name":"blob"}"#).status == 404)
        }
    }

    @Test func errorsTimeoutsLogsNamespacesInfoAndHealth() async throws {
        try await withGateway(coldStartTimeout: .seconds(3), deployTimeout: .seconds(120)) { gw in
            try await gw.runtime.importImage("docker.io/local/svc:1")
            // A per-function timeout (its watchdog's exec_timeout) bounds the call: 504.
            let slow = gw.deployBody("slow", image: "local/svc:1", extra: #","envVars":{"exec_timeout":"1s"}"#)
            #expect(try await gw.call(.post, "/system/functions", json: slow).status == 200)
            let timedOut = try await gw.call(.get, "/function/slow/cgi-bin/info?hold", auth: false)
            #expect(timedOut.status == 504 && timedOut.text.contains("timed out after 1"))
            #expect(timedOut.headers["X-OpenFaaS-Internal"] == "proxy")
            // The daemon's log says which call timed out, with fields journald keeps (CALL_ID, FUNCTION, …).
            let callID = try #require(timedOut.headers["X-Call-Id"])
            let logged = gw.runtime.logs.all.first { $0.message == "function timed out" }
            #expect(logged?.metadata["call_id"] == callID && logged?.metadata["function"] == "slow")
            #expect(logged?.metadata["namespace"] == gw.namespace && logged?.metadata["status"] == "504")

            // Logs as NDJSON.
            _ = try await gw.call(.get, "/function/slow/cgi-bin/info?log=hello-logs", auth: false)
            let found = try await eventually {
                try await gw.call(.get, "/system/logs?name=slow&follow=false&tail=-1").text.contains("hello-logs")
            }
            #expect(found)
            let logs = try await gw.call(.get, "/system/logs?name=slow&follow=false&tail=1")
            #expect(logs.headers["Content-Type"] == "application/x-ndjson")
            let line = try #require(try JSONSerialization.jsonObject(with: Data(logs.body)) as? [String: String])
            #expect(line["text"] == "hello-logs" && line["name"] == "slow" && line["namespace"] == gw.namespace)
            #expect(line["instance"]?.hasPrefix("slow-") == true && line["timestamp"]?.hasSuffix("Z") == true)
            #expect(try await gw.call(.get, "/system/logs?follow=false").status == 422)
            #expect(try await gw.call(.get, "/system/logs?name=slow&since=yesterday").status == 422)
            #expect(try await gw.call(.get, "/system/logs?name=nope&follow=false").status == 404)

            // Namespaces.
            let other = "\(gw.namespace)-x"
            #expect(try await gw.call(.get, "/system/namespaces").text.contains(gw.namespace))
            #expect(try await gw.call(.post, "/system/namespace/", json: #"{"name":"\#(other)"}"#).status == 400)
            let labelled = #"{"name":"\#(other)","labels":{"openfaas":"1","team":"a"}}"#
            #expect(try await gw.call(.post, "/system/namespace/", json: labelled).status == 201)
            #expect(try await gw.call(.post, "/system/namespace/", json: labelled).status == 409)
            #expect(try await gw.call(.get, "/system/namespace/\(other)").text.contains(#""team":"a""#))
            let relabelled = #"{"name":"\#(other)","labels":{"openfaas":"1","team":"b"}}"#
            #expect(try await gw.call(.put, "/system/namespace/\(other)", json: relabelled).status == 202)
            #expect(try await gw.call(.get, "/system/namespace/\(other)").text.contains(#""team":"b""#))
            #expect(try await gw.call(.delete, "/system/namespace/\(other)").status == 202)
            #expect(try await gw.call(.get, "/system/namespace/\(other)").status == 404)

            // Info and health.
            let info = try #require(try await gw.call(.get, "/system/info").json() as? [String: Any])
            let provider = try #require(info["provider"] as? [String: Any])
            #expect(provider["orchestration"] as? String == "containerd" && provider["version"] is [String: Any])
            #expect(try await gw.call(.get, "/healthz", auth: false).status == 200)

            // A function that never gets ready (nothing listens), deployed at zero: its first call waits the
            // bounded cold-start time, then 503 with faasd's text.
            try await gw.runtime.importImage("docker.io/local/mute:1", command: ["/bin/sleep", "600"])
            let mute = gw.deployBody("mute", image: "local/mute:1", labels: #"{"com.openfaas.scale.min":"0"}"#)
            #expect(try await gw.call(.post, "/system/functions", json: mute).status == 200)
            let started = ContinuousClock.now
            let unavailable = try await gw.call(.get, "/function/mute", auth: false)
            #expect(unavailable.status == 503 && unavailable.text == "No endpoints available for: mute.\n")
            #expect(ContinuousClock.now - started >= .seconds(3))
        }
    }

    @Test func metricsCountCallsAndPromtoolParsesThem() async throws {
        try await withGateway { gw in
            let ns = gw.namespace
            try await gw.runtime.importImage("docker.io/local/counted:1")
            #expect(
                try await gw.call(.post, "/system/functions", json: gw.deployBody("counted", image: "local/counted:1"))
                    .status == 200)
            for _ in 0..<3 { _ = try await gw.call(.get, "/function/counted/index.html", auth: false) }
            _ = try await gw.call(.get, "/function/counted/missing.html", auth: false)
            let metrics = try await gw.call(.get, "/metrics", auth: false)
            #expect(metrics.status == 200)
            let text = metrics.text
            #expect(text.contains("gateway_function_invocation_total{code=\"200\",function_name=\"counted.\(ns)\"} 3"))
            #expect(text.contains("gateway_function_invocation_total{code=\"404\",function_name=\"counted.\(ns)\"} 1"))
            #expect(text.contains("gateway_function_invocation_started{function_name=\"counted.\(ns)\"} 4"))
            #expect(text.contains("gateway_functions_seconds_count{code=\"200\",function_name=\"counted.\(ns)\"} 3"))
            #expect(
                text.contains(
                    "gateway_functions_seconds_bucket{code=\"200\",function_name=\"counted.\(ns)\",le=\"+Inf\"} 3"))
            #expect(text.contains("gateway_service_count{function_name=\"counted.\(ns)\"} 1"))
            #expect(text.contains("process_resident_memory_bytes "))
            // The list route's invocationCount comes from the same counters.
            let list = try #require(try await gw.call(.get, "/system/functions").json() as? [[String: Any]])
            #expect(list.first?["invocationCount"] as? Double == 4)

            // Debian's promtool parses it; the only lint complaints are about OpenFaaS's own names, kept for
            // dashboards (gateway_service_count's _count suffix, gateway_function_invocation_started's missing
            // _total).
            let promtool = "/usr/bin/promtool"
            guard FileManager.default.fileExists(atPath: promtool) else {
                Issue.record("promtool missing: apt install prometheus (scripts/test does)")
                return
            }
            var check = ChildProcess(promtool, ["check", "metrics"])
            check.standardInput = metrics.body
            let outcome = try await check.run()
            let complaints = (outcome.outputText + outcome.errorText).split(separator: "\n").map(String.init)
            #expect(!complaints.contains { $0.contains("error") || $0.contains("parse") }, "\(complaints)")
            let allowed = complaints.filter {
                !($0.hasPrefix("gateway_service_count") || $0.hasPrefix("gateway_function_invocation_started"))
            }
            #expect(allowed.isEmpty, "\(complaints)")
        }
    }
}
