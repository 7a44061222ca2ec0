import Foundation
import SkiffAPI
import SkiffHTTP
import SkiffInvoke
import SkiffQueue
import SkiffRuntime

/// `/async-function/NAME[.NS][/path]`: the call is checked (the function exists, the body is within the limit, a
/// callback URL is one Skiff can call), queued, and answered 202 only once it is on disk. The queue's worker
/// makes it later, as `/function/NAME` would.
struct AsyncEnqueue: Sendable {
    let queue: (any CallQueue)?
    let runtime: any FunctionRuntime
    let defaultNamespace: String
    let maxBody: Int
    let servedBy: String

    func respond(to request: HTTPRequest) async throws -> HTTPResponse {
        let startNanoseconds = FunctionProxy.unixNanoseconds()
        guard let given = request.parameters["function"] else { throw GatewayError(404, "404 page not found") }
        let address: FunctionAddress
        do {
            address = try FunctionAddress(given, defaultNamespace: defaultNamespace)
        } catch {
            throw GatewayError(invocation: error, callID: nil)
        }
        let status: FunctionStatus
        do {
            status = try await runtime.status(name: address.name, namespace: address.namespace)
        } catch FunctionRuntimeError.notFound {
            throw GatewayError(invocation: .notFound(function: address.qualified), callID: nil)
        }
        guard let queue else {
            throw GatewayError(503, "asynchronous invocation is off: this daemon runs no queue")
        }
        if request.body.isDeclaredTooLarge || (request.body.declaredLength ?? 0) > maxBody {
            throw GatewayError(413, "the body is larger than the \(maxBody) bytes an asynchronous call may queue")
        }
        let body: [UInt8]
        do {
            body = try await request.body.collect(upTo: maxBody)
        } catch HTTPBodyError.tooLarge {
            throw GatewayError(413, "the body is larger than the \(maxBody) bytes an asynchronous call may queue")
        }
        var callback: GoURL?
        if let text = request.headers["X-Callback-Url"] {
            guard let url = GoURL(text) else {
                throw GatewayError(400, "X-Callback-Url must be http://HOST[:PORT][/PATH]: \(text)")
            }
            callback = url
        }
        let callID = request.headers["X-Call-Id"] ?? CallID.make()
        var header: [String: [String]] = [:]
        for (name, value) in request.headers { header[name, default: []].append(value) }
        header["X-Call-Id"] = [callID]
        header["X-Start-Time"] = [startNanoseconds]
        var queued = QueueRequest(
            function: address.qualified, method: request.method.rawValue, header: header,
            body: body.isEmpty ? nil : Data(body), path: request.parameters["path"].map { "/" + $0 } ?? "",
            queryString: request.query.map(String.init), host: request.headers["Host"], callbackURL: callback)
        do {
            // Its own queue when the function names one (`com.openfaas.queue`), as OpenFaaS's gateway does.
            queued.queueName = try QueueLane.name(annotations: status.definition.annotations)
        } catch {
            throw GatewayError(500, "the function's \(error.description): redeploy it with a valid name")
        }
        do {
            _ = try await queue.enqueue(queued, callID: callID)
        } catch {
            throw GatewayError(503, "cannot queue the call: \(error)")
        }
        var response = HTTPResponse(status: .accepted)
        response.headers.replaceOrAdd(name: "X-Call-Id", value: callID)
        response.headers.replaceOrAdd(name: "X-Start-Time", value: startNanoseconds)
        response.headers.replaceOrAdd(name: "X-Served-By", value: servedBy)
        return response
    }
}
