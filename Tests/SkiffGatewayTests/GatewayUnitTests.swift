import Foundation
import SkiffAPI
import SkiffHTTP
import SkiffInvoke
import Testing

@testable import SkiffGateway

@Suite("gateway units")
struct GatewayUnitTests {
    @Test func callIDsAreVersion4UUIDsAndDistinct() {
        var seen = Set<String>()
        for _ in 0..<10_000 {
            let id = CallID.make()
            #expect(UUID(uuidString: id) != nil && id == id.lowercased())
            let parts = id.split(separator: "-")
            #expect(parts.map(\.count) == [8, 4, 4, 4, 12])
            #expect(parts[2].first == "4" && "89ab".contains(parts[3].first ?? "x"))
            seen.insert(id)
        }
        #expect(seen.count == 10_000)
    }

    @Test func passwordsComparedInConstantTimeAndGeneratedLong() {
        #expect(Credentials.constantTimeEquals(Array("secret".utf8), Array("secret".utf8)))
        #expect(!Credentials.constantTimeEquals(Array("secret".utf8), Array("secreT".utf8)))
        #expect(!Credentials.constantTimeEquals(Array("secret".utf8), Array("secret1".utf8)))
        #expect(!Credentials.constantTimeEquals([], Array("x".utf8)))
        let password = Credentials.generatePassword()
        #expect(password.count == 63 && password.allSatisfy { $0.isLetter || $0.isNumber })
        #expect(password != Credentials.generatePassword())
    }

    @Test func functionAddressesSplitAtTheLastDot() throws {
        let plain = try FunctionAddress("echo", defaultNamespace: "openfaas-fn")
        #expect(plain.name == "echo" && plain.namespace == "openfaas-fn")
        let qualified = try FunctionAddress("echo.dev", defaultNamespace: "openfaas-fn")
        #expect(qualified.name == "echo" && qualified.namespace == "dev" && qualified.qualified == "echo.dev")
        #expect(throws: InvocationError.self) { try FunctionAddress("a.b.c", defaultNamespace: "x") }
        #expect(throws: InvocationError.self) { try FunctionAddress("UP", defaultNamespace: "x") }
    }

    @Test func scaleBoundsClampButLetZeroThrough() throws {
        let bounds = try ScaleBounds(["com.openfaas.scale.min": "2", "com.openfaas.scale.max": "4"], ceiling: 64)
        #expect(bounds.clamp(0) == 0 && bounds.clamp(1) == 2 && bounds.clamp(3) == 3 && bounds.clamp(9) == 4)
        #expect(try ScaleBounds([:], ceiling: 64).minimum == 1)
        // Above the daemon's ceiling a request is refused, not clamped; below it the labels clamp.
        #expect(throws: FunctionRuntimeError.self) { try bounds.replicas(for: 65) }
        #expect(try bounds.replicas(for: 64) == 4 && bounds.replicas(for: 0) == 0)
        #expect(throws: FunctionRuntimeError.self) {
            try ScaleBounds(["com.openfaas.scale.min": "5", "com.openfaas.scale.max": "2"], ceiling: 64)
        }
    }

    @Test func perFunctionTimeoutsComeFromTheWatchdogsEnv() {
        #expect(TimeoutCache.timeout(envVars: [:], fallback: .seconds(60)) == .seconds(60))
        #expect(TimeoutCache.timeout(envVars: ["exec_timeout": "2m"], fallback: .seconds(60)) == .seconds(120))
        #expect(
            TimeoutCache.timeout(envVars: ["exec_timeout": "10s", "write_timeout": "15s"], fallback: .seconds(60))
                == .seconds(15))
    }

    @Test func goTimesRoundTrip() {
        let date = Date(timeIntervalSince1970: 1_700_000_000.25)
        #expect(GoTime.format(date) == "2023-11-14T22:13:20.25Z")
        #expect(GoTime.parse("2023-11-14T22:13:20.25Z") == date)
        #expect(GoTime.parse("2026-11-27T21:41:59Z") != nil && GoTime.parse("2025-01-01T00:00:00.123456789Z") != nil)
        #expect(GoTime.parse("yesterday") == nil)
    }
}

/// What the authentication layer hands on. (busybox httpd, the test functions' server, keeps a Basic
/// `Authorization` out of the CGI environment, so a container cannot show whether the admin's reached it; the
/// layer that consumes it is checked here directly.)
@Suite("credentials are consumed where they are checked")
struct CredentialConsumptionTests {
    /// Records the request the next layer received.
    final class Capture: HTTPResponder, @unchecked Sendable {
        var seen: HTTPRequest?
        func respond(to request: HTTPRequest) async throws -> HTTPResponse {
            seen = request
            return HTTPResponse(status: .ok)
        }
    }

    let credentials = Credentials(user: "admin", password: "s3cret")
    var admin: String { "Basic " + Data("admin:s3cret".utf8).base64EncodedString() }

    func pass(_ target: String, _ authorization: String?, protectsInvocations: Bool) async throws -> (
        status: Int, forwarded: [String]?
    ) {
        var headers = HTTPHeaders()
        if let authorization { headers.add(name: "Authorization", value: authorization) }
        let request = HTTPRequest(head: HTTPRequestHead(method: .get, target: target, headers: headers))
        let capture = Capture()
        let answer = try await BasicAuthMiddleware(credentials: credentials, protectsInvocations: protectsInvocations)
            .respond(to: request, next: capture)
        return (answer.status.code, capture.seen.map { $0.headers.values(name: "Authorization") })
    }

    @Test func theAdminsCredentialsNeverGoFurther() async throws {
        // Open invocations: the admin's header is removed, a function's own token passes.
        #expect(try await pass("/function/f", admin, protectsInvocations: false) == (200, []))
        #expect(try await pass("/function/f", "Bearer own", protectsInvocations: false) == (200, ["Bearer own"]))
        #expect(try await pass("/function/f", nil, protectsInvocations: false) == (200, []))
        // Protected invocations and the admin API: checked, then consumed.
        #expect(try await pass("/function/f", admin, protectsInvocations: true) == (200, []))
        #expect(try await pass("/function/f", "Bearer own", protectsInvocations: true).status == 401)
        #expect(try await pass("/system/functions", admin, protectsInvocations: false) == (200, []))
        #expect(try await pass("/system/functions", nil, protectsInvocations: false).status == 401)
        #expect(try await pass("/healthz", admin, protectsInvocations: false) == (200, []))
    }
}
