import SkiffHTTP
import SkiffPOSIX

/// http mode, as of-watchdog's: the request (path and query as received, headers, body streamed) to the
/// long-lived process; its answer verbatim plus `X-Duration-Seconds`. `exec_timeout` bounds each call and
/// `X-Timeout` may shorten it; a timeout is 504, an unreachable process 500, both marked
/// `X-OpenFaaS-Internal: of-watchdog`.
struct UpstreamProxy: Sendable {
    let settings: WatchdogSettings
    let client: HTTPClient

    func respond(to request: HTTPRequest) async throws -> HTTPResponse {
        guard let upstream = settings.upstream else { return HTTPResponse(status: .internalServerError) }
        let started = ContinuousClock.now
        var timeout = settings.execTimeout
        if let text = request.headers["X-Timeout"], let asked = Duration(goSyntax: text),
            asked > .zero, timeout == .zero || asked <= timeout
        {
            timeout = asked
        }
        let forwarded = HTTPClientRequest(forwarding: request, host: upstream.host, port: upstream.port)
        do {
            let answer = try await client.execute(forwarded, timeout: timeout > .zero ? timeout : nil)
            var response = HTTPResponse(forwarding: answer)
            response.headers.replaceOrAdd(name: "X-Duration-Seconds", value: DurationText.seconds(since: started))
            return response
        } catch let error as HTTPClientError {
            return HTTPResponse(
                status: HTTPStatus(code: error == .requestTimeout ? 504 : 500),
                headers: [
                    "X-Duration-Seconds": DurationText.seconds(since: started), "X-OpenFaaS-Internal": "of-watchdog",
                ])
        }
    }
}

/// `X-Duration-Seconds` as the watchdogs write it (`%f`: six decimals), without Foundation.
enum DurationText {
    static func seconds(since start: ContinuousClock.Instant) -> String {
        seconds((ContinuousClock.now - start).seconds)
    }

    static func seconds(_ value: Double) -> String {
        let micros = Int64((value * 1e6).rounded())
        let fraction = String(micros % 1_000_000)
        return "\(micros / 1_000_000)." + String(repeating: "0", count: 6 - fraction.count) + fraction
    }
}
