import Foundation
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
        #expect(throws: GatewayError.self) { try FunctionAddress("a.b.c", defaultNamespace: "x") }
        #expect(throws: GatewayError.self) { try FunctionAddress("UP", defaultNamespace: "x") }
    }

    @Test func scaleBoundsClampButLetZeroThrough() throws {
        let bounds = try ScaleBounds(["com.openfaas.scale.min": "2", "com.openfaas.scale.max": "4"], ceiling: 64)
        #expect(bounds.clamp(0) == 0 && bounds.clamp(1) == 2 && bounds.clamp(3) == 3 && bounds.clamp(9) == 4)
        #expect(try ScaleBounds([:], ceiling: 64).minimum == 1)
        #expect(throws: GatewayError.self) {
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
