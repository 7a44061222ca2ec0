import Foundation
import SkiffAPI
import SkiffHTTP

/// /system/secrets: create (409 when it exists), update (404 when it does not), list (names only, never
/// values), delete (404 when missing, 409 while a function uses it). Names are DNS-1123 labels, so no path can escape the namespace's folder.
extension Gateway {
    func addSecretRoutes(to router: inout HTTPRouter) throws {
        try router.add(.get, "/system/secrets") { [self] request in
            let namespace = namespace(request)
            let names = try await runtime.secretNames(namespace: namespace)
            return try JSONBody.response(names.map { SecretListItem(name: $0, namespace: namespace) })
        }
        try router.add(.post, "/system/secrets") { [self] request in
            let (namespace, name, value) = try await secretRequest(request, needsValue: true)
            try await runtime.writeSecret(namespace: namespace, name: name, value: value, replacing: false)
            return HTTPResponse(status: .ok)
        }
        try router.add(.put, "/system/secrets") { [self] request in
            let (namespace, name, value) = try await secretRequest(request, needsValue: true)
            try await runtime.writeSecret(namespace: namespace, name: name, value: value, replacing: true)
            return HTTPResponse(status: .ok)
        }
        try router.add(.delete, "/system/secrets") { [self] request in
            let (namespace, name, _) = try await secretRequest(request, needsValue: false)
            try await runtime.deleteSecret(namespace: namespace, name: name)
            return HTTPResponse(status: .ok)
        }
    }

    /// The secret a body names: namespace from the body, then the query, then the default; the value from
    /// `rawValue` (base64) when present, else `value`.
    private func secretRequest(_ request: HTTPRequest, needsValue: Bool) async throws -> (String, String, [UInt8]) {
        let body = try await JSONBody.decode(SecretBody.self, from: request)
        guard let name = body.name, !name.isEmpty else { throw GatewayError(400, "non-empty name is required") }
        if name.contains("/") || name.contains("..") { throw GatewayError(400, "directory traversal found in name") }
        guard ResourceName.isValid(name) else {
            throw GatewayError(
                400, "secret name '\(name)' must be a DNS-1123 label: lowercase letters, digits and '-', at most 63")
        }
        let namespace = namespace(request, body.namespace)
        var value: [UInt8] = []
        if let raw = body.rawValue, !raw.isEmpty {
            guard let decoded = Data(base64Encoded: raw) else {
                throw GatewayError(400, "rawValue is not valid base64")
            }
            value = Array(decoded)
        } else if let text = body.value {
            value = Array(text.utf8)
        } else if needsValue {
            throw GatewayError(400, "a secret needs a value or rawValue")
        }
        return (namespace, name, value)
    }
}
