import Glibc
// The servers bench/http measures: a fixed small body straight from the engine, and the engine's client
// proxying to an upstream. Not shipped; run by bench/http.
import SkiffHTTP
import SkiffPOSIX

let arguments = CommandLine.arguments
func value(_ flag: String) -> String? {
    guard let i = arguments.firstIndex(of: flag), i + 1 < arguments.count else { return nil }
    return arguments[i + 1]
}

let mode = arguments.count > 1 ? arguments[1] : "serve"
let port = Int(value("--port") ?? "8081") ?? 8081
let loops = Int(value("--loops") ?? "") ?? EventLoopGroup.coreCount
let group = try EventLoopGroup(loopCount: loops)
let body = Array("Hello, World!\n".utf8)

let responder: any HTTPResponder
switch mode {
case "serve":
    responder = HTTPHandler { _ in
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "text/plain")
        return HTTPResponse(status: .ok, headers: headers, body: .bytes(body))
    }
case "proxy":
    // The gateway's invocation shape: forward through the engine's client, stream the answer back.
    let upstream = value("--upstream") ?? "127.0.0.1:8082"
    guard let address = SocketAddress(parsing: upstream) else {
        print("--upstream must be HOST:PORT")
        exit(2)
    }
    let client = HTTPClient(group: group)
    responder = HTTPHandler { request in
        let forward = HTTPClientRequest(forwarding: request, host: address.host, port: address.port)
        let response = try await client.execute(forward)
        return HTTPResponse(forwarding: response)
    }
default:
    print("usage: skiff-httpbench serve|proxy --port P [--upstream HOST:PORT] [--loops N]")
    exit(2)
}

let server = HTTPServer(
    configuration: HTTPServerConfiguration(host: "127.0.0.1", port: port), group: group, responder: responder)
let addresses = try await server.start()
print("listening on \(addresses.map(\.description).joined(separator: ", "))")
while true { try await Task.sleep(for: .seconds(3600)) }
