import SkiffAPI
import SkiffHTTP

/// /system/namespaces and /system/namespace/NS: function namespaces are containerd namespaces labelled
/// `openfaas=1`. No limit on how many.
extension Gateway {
    func addNamespaceRoutes(to router: inout HTTPRouter) throws {
        try router.add(.get, "/system/namespaces") { [self] _ in try JSONBody.response(try await runtime.namespaces()) }
        try router.add(.post, "/system/namespace/") { [self] request in try await createNamespace(request) }
        try router.add(.post, "/system/namespace") { [self] request in try await createNamespace(request) }
        try router.add(.get, "/system/namespace/{namespace}") { [self] request in
            let name = String(request.parameters["namespace"] ?? "")
            guard ResourceName.isValid(name), let labels = try await runtime.namespaceLabels(name) else {
                throw GatewayError(404, "namespace \(name) not found")
            }
            return try JSONBody.response(FunctionNamespace(name: name, labels: labels, annotations: nil))
        }
        try router.add(.put, "/system/namespace/{namespace}") { [self] request in
            let name = String(request.parameters["namespace"] ?? "")
            let body = try await JSONBody.decode(FunctionNamespace.self, from: request)
            if let bodyName = body.name, !bodyName.isEmpty, bodyName != name {
                throw GatewayError(400, "namespace in request body does not match namespace in URL")
            }
            guard ResourceName.isValid(name), try await runtime.namespaceLabels(name) != nil else {
                throw GatewayError(404, "namespace \(name) not found")
            }
            let labels = try requireOpenFaaSLabel(body.labels)
            try await runtime.updateNamespace(name, labels: labels)
            return HTTPResponse(status: HTTPStatus(code: 202))
        }
        try router.add(.delete, "/system/namespace/{namespace}") { [self] request in
            let name = String(request.parameters["namespace"] ?? "")
            guard ResourceName.isValid(name), try await runtime.namespaceLabels(name) != nil else {
                throw GatewayError(404, "namespace \(name) not found")
            }
            guard name != configuration.defaultNamespace else {
                throw GatewayError(400, "the default namespace \(name) cannot be deleted")
            }
            guard try await runtime.list(namespace: name).isEmpty else {
                throw GatewayError(409, "namespace \(name) still has functions; remove them first")
            }
            try await runtime.deleteNamespace(name)
            return HTTPResponse(status: HTTPStatus(code: 202))
        }
    }

    private func createNamespace(_ request: HTTPRequest) async throws -> HTTPResponse {
        let body = try await JSONBody.decode(FunctionNamespace.self, from: request)
        guard let name = body.name, !name.isEmpty else {
            throw GatewayError(400, "namespace not specified in request body")
        }
        guard ResourceName.isValid(name) else {
            throw GatewayError(400, "namespace '\(name)' must be a DNS-1123 label: lowercase letters, digits and '-'")
        }
        let labels = try requireOpenFaaSLabel(body.labels)
        if try await runtime.namespaces().contains(name) {
            throw GatewayError(409, "namespace \(name) already exists")
        }
        try await runtime.createNamespace(name, labels: labels)
        return HTTPResponse(status: HTTPStatus(code: 201))
    }

    private func requireOpenFaaSLabel(_ labels: [String: String]?) throws -> [String: String] {
        guard let labels, labels["openfaas"] == "1" || labels["openfaas"] == "true" else {
            throw GatewayError(400, "request does not have openfaas=1 label")
        }
        return labels
    }
}
