import Foundation
import SkiffAPI
import SkiffHTTP
import SkiffRuntime
import SkiffTestSupport
import Testing

/// How the gateway reaches a replica: over the replica's own loopback from inside its network namespace when
/// it listens there (the cheap path), over the bridge when it listens only on its address. Checked from inside
/// the function: the CGI script reports the peer address busybox httpd saw.
@Suite("the route from the gateway to a replica", .serialized, .enabled(if: RealParts.enabled))
struct UpstreamRouteTests {
    /// GET /cgi-bin/info?QUERY the way the gateway dials the endpoint.
    private func infoAsTheGatewayDials(_ endpoint: ReplicaEndpoint, _ query: String) async throws -> String {
        var request = HTTPClientRequest(
            host: endpoint.upstreamHost, port: endpoint.port, target: "/cgi-bin/info?\(query)")
        request.networkNamespace = endpoint.networkNamespace
        let (head, body) = try await testClient.fetch(request, timeout: .seconds(120))
        #expect(head.status.code == 200)
        return String(decoding: body, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test func aReplicaListeningOnEveryAddressIsReachedOverItsOwnLoopback() async throws {
        try await withRuntime { harness in
            let ns = harness.namespace
            try await harness.importImage("docker.io/local/route:1")
            try await harness.runtime.deploy(
                FunctionDefinition(name: "route", namespace: ns, image: "local/route:1"), replicas: 1)
            let endpoint = try #require(harness.runtime.endpoints(name: "route", namespace: ns).first)
            let netns = try #require(endpoint.networkNamespace)
            #expect(netns.hasPrefix("/run/netns/skiff-") && FileManager.default.fileExists(atPath: netns))
            #expect(endpoint.upstreamHost == "127.0.0.1")
            // The function sees the connection come from its own loopback; over the bridge, from the bridge.
            #expect(try await infoAsTheGatewayDials(endpoint, "peer") == "127.0.0.1")
            #expect(try await harness.info(endpoint, "peer") == "\(harness.runtime.gatewayAddress)\n")
            try await harness.runtime.remove(name: "route", namespace: ns)
        }
    }

    @Test func aReplicaListeningOnlyOnItsAddressIsReachedOverTheBridge() async throws {
        try await withRuntime { harness in
            let ns = harness.namespace
            let onlyEth0 =
                "trap 'exit 0' TERM; a=$(ip -o -4 addr show dev eth0 | awk '{print $4}' | cut -d/ -f1); "
                + "httpd -f -p \"$a:8080\" -h /www & wait; wait"
            try await harness.importImage("docker.io/local/eth0:1", command: ["/bin/sh", "-c", onlyEth0])
            try await harness.runtime.deploy(
                FunctionDefinition(name: "eth0", namespace: ns, image: "local/eth0:1"), replicas: 1)
            let endpoint = try #require(harness.runtime.endpoints(name: "eth0", namespace: ns).first)
            #expect(endpoint.networkNamespace == nil)
            #expect(endpoint.upstreamHost == endpoint.host)
            #expect(try await infoAsTheGatewayDials(endpoint, "peer") == harness.runtime.gatewayAddress)
            try await harness.runtime.remove(name: "eth0", namespace: ns)
        }
    }

    @Test func aReplicaListeningOnlyOnLoopbackIsStillServed() async throws {
        try await withRuntime { harness in
            let ns = harness.namespace
            let onlyLoopback = "trap 'exit 0' TERM; httpd -f -p 127.0.0.1:8080 -h /www & wait; wait"
            try await harness.importImage("docker.io/local/lo:1", command: ["/bin/sh", "-c", onlyLoopback])
            try await harness.runtime.deploy(
                FunctionDefinition(name: "lo", namespace: ns, image: "local/lo:1"), replicas: 1)
            let endpoint = try #require(harness.runtime.endpoints(name: "lo", namespace: ns).first)
            #expect(endpoint.networkNamespace != nil)
            #expect(try await infoAsTheGatewayDials(endpoint, "peer") == "127.0.0.1")
            // Nothing answers on its address: the bridge was never the route.
            await #expect(throws: HTTPClientError.self) { try await harness.info(endpoint, "peer") }
            try await harness.runtime.remove(name: "lo", namespace: ns)
        }
    }
}
