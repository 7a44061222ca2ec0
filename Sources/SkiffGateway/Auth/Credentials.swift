import Foundation
import SkiffPOSIX

/// The admin credentials: user `admin` and a password generated once (63 random letters and digits from the
/// kernel's CSPRNG), kept in `STATE/secrets/basic-auth-user` and `basic-auth-password`, mode 0600 in a 0700
/// directory, never overwritten.
public struct Credentials: Sendable {
    public let user: String
    public let password: String

    public static func loadOrCreate(stateDirectory: String) throws -> Credentials {
        let directory = "\(stateDirectory)/secrets"
        return Credentials(
            user: try GeneratedSecret.loadOrCreate(at: "\(directory)/basic-auth-user") { "admin" },
            password: try GeneratedSecret.loadOrCreate(at: "\(directory)/basic-auth-password"))
    }

    static func generatePassword(length: Int = 63) -> String { GeneratedSecret.random(length: length) }

    /// Checks an `Authorization` header: Basic, the user exactly, the password in constant time.
    func accepts(_ header: String?) -> Bool {
        guard let header, header.count > 6, header.prefix(6).lowercased() == "basic " else { return false }
        guard let decoded = Data(base64Encoded: String(header.dropFirst(6)).trimmingCharacters(in: .whitespaces)),
            let colon = decoded.firstIndex(of: UInt8(ascii: ":"))
        else { return false }
        let givenUser = Array(decoded[decoded.startIndex..<colon])
        let givenPassword = Array(decoded[decoded.index(after: colon)...])
        // Both comparisons always run, so timing says nothing about which part was wrong.
        let userMatches = Self.constantTimeEquals(givenUser, Array(user.utf8))
        let passwordMatches = Self.constantTimeEquals(givenPassword, Array(password.utf8))
        return userMatches && passwordMatches
    }

    /// Compares every byte of the longer input, whatever differs where. The lengths are compared whole: a
    /// difference kept in eight bits would let a password followed by 256 NUL bytes through.
    static func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference: UInt8 = a.count == b.count ? 0 : 1
        for index in 0..<max(a.count, b.count) {
            difference |= (index < a.count ? a[index] : 0) ^ (index < b.count ? b[index] : 0)
        }
        return difference == 0
    }
}
