import Foundation
import SkiffAPI
import SkiffHTTP
import SkiffInvoke
import SkiffQueue
import SkiffRuntime

/// /system/functions (list, deploy, update, remove), /system/function/NAME (describe) and
/// /system/scale-function/NAME.
extension Gateway {
    func addFunctionRoutes(to router: inout HTTPRouter) throws {
        try router.add(.get, "/system/functions") { [self] request in
            let namespace = namespace(request)
            try await requireNamespace(namespace)
            let functions = try await runtime.list(namespace: namespace)
            return try JSONBody.response(functions.map(body))
        }
        try router.add(.post, "/system/functions") { [self] request in try await deploy(request) }
        try router.add(.put, "/system/functions") { [self] request in try await update(request) }
        try router.add(.delete, "/system/functions") { [self] request in
            let body = try await JSONBody.decode(DeleteFunctionRequest.self, from: request)
            let namespace = namespace(request, body.namespace)
            try await requireNamespace(namespace)
            guard ResourceName.isValid(body.functionName) else {
                throw GatewayError(400, "functionName '\(body.functionName)' is not a valid function name")
            }
            do {
                try await runtime.remove(name: body.functionName, namespace: namespace)
            } catch FunctionRuntimeError.notFound {
                throw GatewayError(404, "function \(body.functionName).\(namespace) not found")
            }
            timeouts.forget(FunctionAddress(uncheckedName: body.functionName, namespace: namespace))
            return HTTPResponse(status: .ok)
        }
        try router.add(.get, "/system/function/{name}") { [self] request in
            let name = String(request.parameters["name"] ?? "")
            let namespace = namespace(request)
            guard ResourceName.isValid(name), ResourceName.isValid(namespace),
                let status = try? await runtime.status(name: name, namespace: namespace)
            else {
                // faas-cli reads an empty 404 as "no such function".
                return HTTPResponse(status: .notFound)
            }
            var described = body(status)
            if request.queryValue("usage") == "1" || request.queryValue("usage") == "true" {
                described.usage = runtime.usage(status)
            }
            return try JSONBody.response(described)
        }
        try router.add(.post, "/system/scale-function/{name}") { [self] request in try await scale(request) }
    }

    private func body(_ status: FunctionStatus) -> FunctionSummary {
        FunctionSummary(
            definition: status.definition,
            invocationCount: metrics.invocations("\(status.definition.name).\(status.definition.namespace)"),
            replicas: status.replicas, availableReplicas: status.availableReplicas,
            createdAt: GoTime.format(status.createdAt))
    }

    /// The runtime validates the definition before it creates anything; answers 200 once the replicas are ready
    /// (faas-cli accepts 200 and 202, never 201).
    private func deploy(_ request: HTTPRequest) async throws -> HTTPResponse {
        let deployment = try await JSONBody.decode(FunctionDeployment.self, from: request)
        let definition = deployment.definition(defaultNamespace: configuration.defaultNamespace)
        try checkTriggers(definition)
        let replicas = try ScaleBounds(definition.labels, ceiling: configuration.maxReplicas).minimum
        try await runtime.deploy(definition, replicas: replicas)
        timeouts.forget(FunctionAddress(uncheckedName: definition.name, namespace: definition.namespace))
        return HTTPResponse(status: .ok)
    }

    /// An unknown function is 404 before anything else: faas-cli deploys with PUT and falls back to POST on 404.
    private func update(_ request: HTTPRequest) async throws -> HTTPResponse {
        let deployment = try await JSONBody.decode(FunctionDeployment.self, from: request)
        let definition = deployment.definition(defaultNamespace: configuration.defaultNamespace)
        try checkTriggers(definition)
        if (try? await runtime.status(name: definition.name, namespace: definition.namespace)) != nil {
            _ = try ScaleBounds(definition.labels, ceiling: configuration.maxReplicas)
        }
        try await runtime.update(definition)
        timeouts.forget(FunctionAddress(uncheckedName: definition.name, namespace: definition.namespace))
        return HTTPResponse(status: .ok)
    }

    /// A schedule, a topic or a queue name that cannot be used is refused now, not logged later by a function that never runs.
    private func checkTriggers(_ definition: FunctionDefinition) throws(GatewayError) {
        do {
            _ = try CronTriggers.schedule(annotations: definition.annotations)
        } catch {
            throw GatewayError(400, "annotation schedule: \(error.description)")
        }
        do {
            _ = try SubjectTriggers.binding(annotations: definition.annotations)
        } catch {
            throw GatewayError(400, "annotations: \(error.description)")
        }
        do {
            _ = try QueueLane.name(annotations: definition.annotations)
        } catch {
            throw GatewayError(400, "annotation \(error.description)")
        }
    }

    /// Namespace from the body, else the query, else the default; the path's name must match `serviceName`.
    /// 0 scales to zero; above 0 the count is held within com.openfaas.scale.min/max. Answers 202 once done.
    private func scale(_ request: HTTPRequest) async throws -> HTTPResponse {
        let pathName = String(request.parameters["name"] ?? "")
        let body = try await JSONBody.decode(ScaleServiceRequest.self, from: request)
        if let serviceName = body.serviceName, !serviceName.isEmpty, serviceName != pathName {
            throw GatewayError(400, "serviceName '\(serviceName)' does not match the function in the URL '\(pathName)'")
        }
        guard body.replicas >= 0 else { throw GatewayError(400, "replicas must be 0 or more") }
        let namespace = namespace(request, body.namespace)
        guard ResourceName.isValid(pathName), ResourceName.isValid(namespace),
            let status = try? await runtime.status(name: pathName, namespace: namespace)
        else {
            throw GatewayError(404, "function: \(pathName).\(namespace) not found")
        }
        let replicas = try ScaleBounds(status.definition.labels, ceiling: configuration.maxReplicas)
            .replicas(for: body.replicas)
        try await runtime.scale(name: pathName, namespace: namespace, replicas: replicas)
        return HTTPResponse(status: HTTPStatus(code: 202))
    }
}
