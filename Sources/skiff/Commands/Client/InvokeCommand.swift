import Foundation
import SkiffHTTP
import SkiffPOSIX

/// `skiff invoke NAME`: standard input is the request body, the answer's body goes to standard output.
enum InvokeCommand: ClientCommand {
    static let usage = "skiff invoke NAME [-n NS] [--async] [--method M] [--header K=V] [--query K=V] [--path /sub]"
    static let summary =
        "Calls a function with standard input as the body; exits 1 when it answers with an error status."
    static let options: [Arguments.Option] = [
        CommonOptions.gateway, CommonOptions.namespace,
        .flag("--async", "-a", help: "queue the call (/async-function/NAME); prints its call id"),
        .value("--method", "-m", name: "METHOD", help: "HTTP method (POST)"),
        .value("--header", "-H", name: "K=V", help: "a request header (repeatable)"),
        .value("--query", name: "K=V", help: "a query parameter (repeatable)"),
        .value("--path", name: "PATH", help: "a sub-path after the function's name"),
        .value("--content-type", name: "TYPE", help: "the body's Content-Type (text/plain)"),
        .flag("--include", "-i", help: "print the status line and the answer's headers first"),
    ]

    static func run(_ arguments: Arguments, _ context: ClientContext) async throws -> Int32 {
        guard let name = arguments.positionals.first, arguments.positionals.count == 1 else {
            throw Arguments.UsageError(description: "name one function")
        }
        var headers = try arguments.pairs("--header")
        if let type = arguments.value("--content-type") { headers.append(("Content-Type", type)) }
        let isAsync = arguments.isSet("--async")
        let method = HTTPMethod(rawValue: (arguments.value("--method") ?? "POST").uppercased())
        if Terminal.isTerminal(0) { Console.error("reading the request body from standard input (Ctrl+D ends it)") }
        let body = readStandardInput()
        let response = try await context.gateway().invoke(
            name, namespace: arguments.value("--namespace"), async: isAsync, method: method,
            path: arguments.value("--path") ?? "", query: try arguments.pairs("--query"), headers: headers,
            body: .bytes(body))
        let status = Int(response.status.code)
        if arguments.isSet("--include") {
            var head = "HTTP/1.1 \(status)\n"
            for (key, value) in response.headers { head += "\(key): \(value)\n" }
            writeStandardOutput(Array((head + "\n").utf8))
        }
        if status >= 400 {
            let text = String(decoding: try await response.body.collect(upTo: 1 << 20), as: UTF8.self)
            Console.error("skiff: \(name) answered \(status): \(text.trimmingCharacters(in: .whitespacesAndNewlines))")
            return 1
        }
        if isAsync && status == 202 {
            // The call id alone on standard output, for scripts (`id=$(skiff invoke --async fn)`).
            let callID = response.headers["X-Call-Id"] ?? "-"
            writeStandardOutput(Array((callID + "\n").utf8))
            Console.error("queued: `skiff queue` shows it until it is done")
            return 0
        }
        for try await chunk in response.body { writeStandardOutput(chunk) }
        return 0
    }
}
