import Foundation
import SkiffPOSIX

/// Prometheus 2.42's HTTP query API (`/api/v1/…`) over the store: parameters, validation and its error texts,
/// results and their exact JSON. Knows nothing of HTTP: the gateway hands it the path below `/api/v1` and the form
/// (the query string's pairs, then a POST body's), and sends back the answer.
public struct PrometheusAPI: Sendable {
    public struct Answer: Sendable, Equatable {
        public var status: Int
        public var contentType: String
        public var body: String

        /// Too many queries are running: try again shortly (Prometheus queues them; Skiff, short of threads, says
        /// so at once).
        public static let busy = Answer(
            status: 503, contentType: "application/json",
            body: #"{"status":"error","errorType":"unavailable","error":"too many queries at once; retry shortly"}"#)

        static func success(_ data: String) -> Answer {
            Answer(status: 200, contentType: "application/json", body: #"{"status":"success","data":"# + data + "}")
        }
    }

    /// A refusal with Prometheus's error type, which decides the status.
    struct Failure: Error {
        let type: String
        let message: String

        static func badData(_ message: String) -> Failure { Failure(type: "bad_data", message: message) }

        init(type: String, message: String) {
            self.type = type
            self.message = message
        }

        init(_ evaluation: PromQLEvaluationError) {
            self.init(type: evaluation.timedOut ? "timeout" : "execution", message: evaluation.message)
        }

        static func parameter(_ name: String, _ message: String) -> Failure {
            .badData("invalid parameter \"\(name)\": \(message)")
        }

        var answer: Answer {
            let status =
                switch type {
                case "bad_data": 400
                case "execution": 422
                case "canceled", "timeout": 503
                case "not_found": 404
                default: 500
                }
            var body = Array(#"{"status":"error","errorType":"#.utf8)
            JSONText.appendQuoted(type, to: &body)
            body += Array(#","error":"#.utf8)
            JSONText.appendQuoted(message, to: &body)
            body.append(UInt8(ascii: "}"))
            return Answer(status: status, contentType: "application/json", body: String(decoding: body, as: UTF8.self))
        }
    }

    /// The version Grafana's data source reads to choose its features.
    public static let version = "2.42.0"

    public let store: TimeSeriesStore
    let engine: PromQLEngine

    /// `maximumSamples`: what one query may read (the engine's default fits a small VM).
    public init(store: TimeSeriesStore, maximumSamples: Int? = nil) {
        self.store = store
        var engine = PromQLEngine(source: store)
        if let maximumSamples { engine.maximumSamples = maximumSamples }
        self.engine = engine
    }

    /// The answer to `path` (below `/api/v1`, e.g. `/query`) with `form`'s parameters, at wall-clock time `now`
    /// (milliseconds).
    public func answer(_ path: String, form: [(String, String)], now: Int64) -> Answer {
        do {
            switch path {
            case "/query": return try query(form, now: now)
            case "/query_range": return try queryRange(form)
            case "/series": return try series(form)
            case "/labels": return try labels(form)
            case "/status/buildinfo":
                return .success(
                    #"{"version":"\#(Self.version)","revision":"skiff","branch":"skiff","buildUser":"skiff","#
                        + #""buildDate":"","goVersion":"none"}"#)
            case "/metadata": return .success("{}")
            case "/query_exemplars": return .success("[]")
            case "/rules": return .success(#"{"groups":[]}"#)
            case "/alerts": return .success(#"{"alerts":[]}"#)
            default:
                if path.hasPrefix("/label/"), path.hasSuffix("/values") {
                    let name = String(path.dropFirst("/label/".count).dropLast("/values".count))
                    return try labelValues(name, form)
                }
                return Answer(status: 404, contentType: "text/plain; charset=utf-8", body: "404 page not found\n")
            }
        } catch {
            return error.answer
        }
    }

    // MARK: Queries

    private func query(_ form: [(String, String)], now: Int64) throws(Failure) -> Answer {
        let time: Int64
        if let text = Self.value("time", form), !text.isEmpty {
            do {
                time = try Self.time(text)
            } catch {
                throw .parameter("time", "Invalid time value for 'time': \(error.message)")
            }
        } else {
            time = now
        }
        let engine = try engine(form)
        let expression = try Self.expression(form)
        let value: PromQLValue
        do {
            value = try engine.instant(expression, at: time)
        } catch {
            throw Failure(error)
        }
        return .success(Self.render(value, at: time))
    }

    private func queryRange(_ form: [(String, String)]) throws(Failure) -> Answer {
        let start = try Self.time(parameter: "start", form)
        let end = try Self.time(parameter: "end", form)
        guard end >= start else { throw .parameter("end", "end timestamp must not be before start time") }
        let step: Int64
        do {
            step = try Self.duration(Self.value("step", form) ?? "")
        } catch {
            throw .parameter("step", error.message)
        }
        guard step > 0 else {
            throw .parameter(
                "step", "zero or negative query resolution step widths are not accepted. Try a positive integer")
        }
        guard (end - start) / step <= PromQLEngine.maximumPoints else {
            throw .badData(
                "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution "
                    + "(?step=XX)")
        }
        let engine = try engine(form)
        let expression = try Self.expression(form)
        guard expression.type == .scalar || expression.type == .vector else {
            throw .badData(
                "invalid expression type \"\(Parser.typeName(expression.type))\" for range query, must be Scalar or "
                    + "instant Vector")
        }
        let series: [RangeSeries]
        do {
            series = try engine.range(expression, start: start, end: end, step: step)
        } catch {
            throw Failure(error)
        }
        return .success(#"{"resultType":"matrix","result":"# + Self.render(series) + "}")
    }

    // MARK: Series and labels

    private func series(_ form: [(String, String)]) throws(Failure) -> Answer {
        let selectors = Self.values("match[]", form)
        guard !selectors.isEmpty else { throw .badData("no match[] parameter provided") }
        let matcherSets = try Self.matcherSets(selectors)
        let (start, end) = try Self.range(form)
        var found = Set<Labels>()
        for matchers in matcherSets { found.formUnion(store.labelSets(matchers, from: start, through: end)) }
        var body = "["
        for (index, labels) in found.sorted().enumerated() {
            if index > 0 { body += "," }
            body += Self.render(labels)
        }
        return .success(body + "]")
    }

    private func labels(_ form: [(String, String)]) throws(Failure) -> Answer {
        let selectors = Self.values("match[]", form)
        let names: [String]
        if selectors.isEmpty {
            names = store.labelNames
        } else {
            let (start, end) = try Self.range(form)
            var found = Set<String>()
            for matchers in try Self.matcherSets(selectors) {
                for labels in store.labelSets(matchers, from: start, through: end) {
                    for label in labels.labels { found.insert(label.name) }
                }
            }
            names = found.sorted()
        }
        return .success(Self.render(strings: names))
    }

    private func labelValues(_ name: String, _ form: [(String, String)]) throws(Failure) -> Answer {
        guard Evaluation.isValidLabelName(name) else { throw .badData("invalid label name: \"\(name)\"") }
        let selectors = Self.values("match[]", form)
        let values: [String]
        if selectors.isEmpty {
            values = store.labelValues(name)
        } else {
            let (start, end) = try Self.range(form)
            var found = Set<String>()
            for matchers in try Self.matcherSets(selectors) {
                for labels in store.labelSets(matchers, from: start, through: end) {
                    if let value = labels[name] { found.insert(value) }
                }
            }
            values = found.sorted()
        }
        return .success(Self.render(strings: values))
    }

    // MARK: Parameters

    static func value(_ name: String, _ form: [(String, String)]) -> String? { form.first { $0.0 == name }?.1 }

    static func values(_ name: String, _ form: [(String, String)]) -> [String] {
        form.filter { $0.0 == name }.map(\.1)
    }

    private static func expression(_ form: [(String, String)]) throws(Failure) -> PromQLExpression {
        do {
            return try PromQLParser.parse(value("query", form) ?? "")
        } catch {
            throw .parameter("query", error.description)
        }
    }

    /// The engine with the query's deadline: its `timeout`, at most Prometheus's default of two minutes.
    private func engine(_ form: [(String, String)]) throws(Failure) -> PromQLEngine {
        var timeout = Self.maximumTimeout
        if let text = Self.value("timeout", form), !text.isEmpty {
            do {
                timeout = min(timeout, max(0, try Self.duration(text)))
            } catch {
                throw .parameter("timeout", error.message)
            }
        }
        var engine = self.engine
        engine.deadline = .now + .milliseconds(timeout)
        return engine
    }

    static let maximumTimeout: Int64 = 120_000

    /// Each `match[]` as a selector's matchers; one that matches everything is refused as Prometheus refuses it.
    private static func matcherSets(_ selectors: [String]) throws(Failure) -> [[LabelMatcher]] {
        var sets: [[LabelMatcher]] = []
        for selector in selectors {
            let matchers: [LabelMatcher]
            do {
                matchers = try PromQLParser.parseSelector(selector)
            } catch {
                throw .parameter("match[]", error.description)
            }
            guard matchers.contains(where: { !$0.matchesEmpty }) else {
                throw .parameter("match[]", "match[] must contain at least one non-empty matcher")
            }
            sets.append(matchers)
        }
        return sets
    }

    /// `start` and `end` of the series and label endpoints: all of time when absent.
    private static func range(_ form: [(String, String)]) throws(Failure) -> (Int64, Int64) {
        let start = (value("start", form) ?? "").isEmpty ? Int64.min : try time(parameter: "start", form)
        let end = (value("end", form) ?? "").isEmpty ? Int64.max : try time(parameter: "end", form)
        return (start, end)
    }

    private static func time(parameter name: String, _ form: [(String, String)]) throws(Failure) -> Int64 {
        do {
            return try time(value(name, form) ?? "")
        } catch {
            throw .parameter(name, error.message)
        }
    }

    /// Unix seconds with up to a millisecond's precision (rounded to it), or RFC 3339.
    static func time(_ text: String) throws(Failure) -> Int64 {
        if let seconds = Double(text), seconds.isFinite, abs(seconds) < 9e15 {
            let whole = seconds.rounded(.towardZero)
            let fraction = ((seconds - whole) * 1_000).rounded() / 1_000
            return Int64(whole) * 1_000 + Int64((fraction * 1_000).rounded())
        }
        for options: ISO8601DateFormatter.Options in [
            [.withInternetDateTime, .withFractionalSeconds], [.withInternetDateTime],
        ] {
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = options
            if let date = formatter.date(from: text) {
                return Int64((date.timeIntervalSince1970 * 1_000).rounded(.down))
            }
        }
        throw .badData("cannot parse \"\(text)\" to a valid timestamp")
    }

    /// Float seconds or a Prometheus duration, in milliseconds.
    static func duration(_ text: String) throws(Failure) -> Int64 {
        if let seconds = Double(text), !seconds.isNaN {
            guard abs(seconds * 1e9) < 9.2e18 else {
                throw .badData("cannot parse \"\(text)\" to a valid duration. It overflows int64")
            }
            return Int64((seconds * 1_000).rounded(.towardZero))
        }
        guard let milliseconds = Lexer.duration(text) else {
            throw .badData("cannot parse \"\(text)\" to a valid duration")
        }
        return milliseconds
    }

    // MARK: Rendering

    static func render(_ value: PromQLValue, at time: Int64) -> String {
        switch value {
        case .scalar(let number):
            return #"{"resultType":"scalar","result":["# + NumberText.scalarTimestamp(time) + ",\""
                + NumberText.plain(number) + "\"]}"
        case .string(let text):
            var quoted: [UInt8] = []
            JSONText.appendQuoted(text, to: &quoted)
            return #"{"resultType":"string","result":["# + NumberText.scalarTimestamp(time) + ","
                + String(decoding: quoted, as: UTF8.self) + "]}"
        case .vector(let elements):
            var body = #"{"resultType":"vector","result":["#
            for (index, element) in elements.enumerated() {
                if index > 0 { body += "," }
                body +=
                    #"{"metric":"# + render(element.labels) + #","value":["# + NumberText.timestamp(time) + ",\""
                    + NumberText.sample(element.value) + "\"]}"
            }
            return body + "]}"
        case .matrix(let series):
            return #"{"resultType":"matrix","result":"# + render(series) + "}"
        }
    }

    static func render(_ series: [RangeSeries]) -> String {
        var body = "["
        for (index, entry) in series.enumerated() {
            if index > 0 { body += "," }
            body += #"{"metric":"# + render(entry.labels) + #","values":["#
            for (number, sample) in entry.samples.enumerated() {
                if number > 0 { body += "," }
                body += "[" + NumberText.timestamp(sample.timestamp) + ",\"" + NumberText.sample(sample.value) + "\"]"
            }
            body += "]}"
        }
        return body + "]"
    }

    static func render(_ labels: Labels) -> String {
        var bytes: [UInt8] = [UInt8(ascii: "{")]
        for (index, label) in labels.labels.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            JSONText.appendQuoted(label.name, to: &bytes)
            bytes.append(UInt8(ascii: ":"))
            JSONText.appendQuoted(label.value, to: &bytes)
        }
        bytes.append(UInt8(ascii: "}"))
        return String(decoding: bytes, as: UTF8.self)
    }

    static func render(strings: [String]) -> String {
        var bytes: [UInt8] = [UInt8(ascii: "[")]
        for (index, text) in strings.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            JSONText.appendQuoted(text, to: &bytes)
        }
        bytes.append(UInt8(ascii: "]"))
        return String(decoding: bytes, as: UTF8.self)
    }
}
