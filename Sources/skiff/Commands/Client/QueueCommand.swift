import Foundation
import SkiffAPI

/// `skiff queue`: the asynchronous calls per function and the dead letters; dead calls queued again; a function's
/// waiting calls removed.
enum QueueCommand: ClientCommand {
    static let usage = "skiff queue [list | retry CALL_ID | retry --all-dead | purge NAME [-n NS]] [--json]"
    static let summary = """
        Lists, per function, the asynchronous calls stored and not yet done, those in flight, and the retries \
        and dead letters since the daemon started; the named queues (`com.openfaas.queue`) when there are any; \
        then every dead letter (a call that used all its attempts) \
        with its call id and why. `retry` queues a dead call again (or all of them) with its attempts starting \
        over; `purge` removes a function's calls that the worker has not taken yet.
        """
    static let options: [Arguments.Option] = [
        CommonOptions.gateway, CommonOptions.namespace, CommonOptions.json,
        .flag("--all-dead", help: "with retry: every dead call"),
    ]

    static func run(_ arguments: Arguments, _ context: ClientContext) async throws -> Int32 {
        let client = try context.gateway()
        switch arguments.positionals {
        case [], ["list"], ["ls"]:
            if arguments.isSet("--json") {
                writeStandardOutput(try await client.queueBody() + [0x0A])
                return 0
            }
            let queue = try await client.queue()
            let rows = queue.functions.map {
                [
                    "\($0.name).\($0.namespace)", "\($0.queued)", "\($0.inFlight)", "\($0.retries)",
                    "\($0.deadLetters)", "\($0.redelivered)",
                ]
            }
            print(table(["Function", "Queued", "In flight", "Retries", "Dead", "Redelivered"], rows))
            // Named queues (`com.openfaas.queue`) are worth a line of their own; the default one alone is not.
            if queue.queues.count > 1 {
                print("\nQueues (each with a worker of its own):")
                print(table(["Queue", "Queued"], queue.queues.map { [$0.name, "\($0.queued)"] }))
            }
            if queue.callbacks > 0 {
                print("\nCallbacks waiting for their receiver (tried again with back-off): \(queue.callbacks)")
            }
            if !queue.dead.isEmpty {
                print("\nDead letters (`skiff queue retry CALL_ID` or `--all-dead` queues them again):")
                print(
                    table(
                        ["Call id", "Function", "Attempts", "Queued at", "Why"],
                        queue.dead.map { [$0.callId, $0.function, "\($0.attempts)", $0.queuedAt, $0.reason] }))
            }
            return 0
        case ["retry"] where arguments.isSet("--all-dead"):
            print("queued again: \(try await client.retryDeadCalls(callID: nil))")
            return 0
        case let positionals where positionals.count == 2 && positionals[0] == "retry":
            print("queued again: \(try await client.retryDeadCalls(callID: positionals[1]))")
            return 0
        case let positionals where positionals.count == 2 && positionals[0] == "purge":
            let removed = try await client.purgeQueue(
                function: positionals[1], namespace: arguments.value("--namespace"))
            print("removed: \(removed)")
            return 0
        default:
            throw Arguments.UsageError(
                description: "expected `skiff queue`, `skiff queue retry CALL_ID`, `skiff queue retry --all-dead` "
                    + "or `skiff queue purge NAME`")
        }
    }
}
