import Foundation
import SkiffAPI
import SkiffHTTP
import SkiffInvoke
import SkiffQueue

/// /system/queue (Skiff's own; OpenFaaS has no queue API): the asynchronous calls per function and the dead
/// letters, dead calls queued again, a function's untaken calls removed. Behind the admin credentials.
extension Gateway {
    func addQueueRoutes(to router: inout HTTPRouter) throws {
        try router.add(.get, "/system/queue") { [self] _ in
            try JSONBody.response(try await requireQueue().summary())
        }
        try router.add(.post, "/system/queue/retry") { [self] request in
            let queue = try requireQueue()
            let asked = try await JSONBody.decode(QueueRetryRequest.self, from: request)
            guard asked.callId != nil || asked.allDead == true else {
                throw GatewayError(400, "say which dead calls to retry: callId, or allDead: true")
            }
            let requeued = try await queue.retryDead(callID: asked.allDead == true ? nil : asked.callId)
            if let callId = asked.callId, asked.allDead != true, requeued == 0 {
                throw GatewayError(404, "no dead call with id \(callId)")
            }
            logger.info("dead calls queued again on request", ["calls": String(requeued)])
            return try JSONBody.response(QueueChange(calls: requeued))
        }
        try router.add(.post, "/system/queue/purge") { [self] request in
            let queue = try requireQueue()
            let asked = try await JSONBody.decode(QueuePurgeRequest.self, from: request)
            let address: FunctionAddress
            do {
                address = try FunctionAddress(
                    Substring(asked.functionName), defaultNamespace: namespace(request, asked.namespace))
            } catch let error as InvocationError {
                throw GatewayError(400, error.message)
            }
            let removed = try await queue.purge(function: address)
            logger.info("queued calls removed on request", ["function": address.qualified, "calls": String(removed)])
            return try JSONBody.response(QueueChange(calls: removed))
        }
    }

    private func requireQueue() throws -> any CallQueue {
        guard let queue else { throw GatewayError(503, "asynchronous invocation is off: this daemon runs no queue") }
        return queue
    }
}
