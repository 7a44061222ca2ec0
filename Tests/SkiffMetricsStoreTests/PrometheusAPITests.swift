import Foundation
import SkiffLog
import SkiffMetrics
import Testing

@testable import SkiffMetricsStore

/// The query API's parameters, errors and JSON, against the texts Prometheus 2.42 answers (`prometheus.md` §3;
/// `PrometheusDifferentialTests` asks the real server the same).
@Suite("Prometheus query API")
struct PrometheusAPITests {
    private static func store() throws -> (TimeSeriesStore, String) {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("skiff-api-\(UUID().uuidString)").path
        let store = try TimeSeriesStore(directory: path)
        var batch: [(labels: Labels, sample: Sample)] = []
        for second in stride(from: 0, through: 600, by: 15) {
            for function in ["a.openfaas-fn", "b.openfaas-fn"] {
                batch.append(
                    (
                        Labels([
                            (Labels.metricName, "gateway_function_invocation_total"), ("function_name", function),
                            ("code", "200"),
                        ]), Sample(timestamp: Int64(second) * 1_000, value: Double(second / 15))
                    ))
            }
            batch.append(
                (Labels([(Labels.metricName, "tiny")]), Sample(timestamp: Int64(second) * 1_000, value: 1e-7)))
        }
        try store.append(batch)
        return (store, path)
    }

    private static func json(_ answer: PrometheusAPI.Answer) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as? [String: Any])
    }

    @Test func numbersAndTimesAreWrittenAsPrometheusWritesThem() {
        #expect(NumberText.sample(1e-7) == "1e-07")
        #expect(NumberText.sample(1.5e-7) == "1.5e-07")
        #expect(NumberText.sample(1e21) == "1e+21")
        #expect(NumberText.sample(0.30000000000000004) == "0.30000000000000004")
        #expect(NumberText.sample(100) == "100")
        #expect(NumberText.sample(0.000001) == "0.000001")
        #expect(NumberText.sample(-2.5) == "-2.5")
        #expect(NumberText.sample(.nan) == "NaN" && NumberText.sample(-.infinity) == "-Inf")
        #expect(NumberText.plain(1e-7) == "0.0000001")
        #expect(NumberText.plain(123_456_789_012_345_680) == "123456789012345680")
        #expect(NumberText.plain(1_152_921_504_606_846_976) == "1152921504606847000")
        #expect(NumberText.plain(-0.0) == "-0" && NumberText.plain(1e20) == "100000000000000000000")
        #expect(NumberText.timestamp(1_435_781_451_781) == "1435781451.781")
        #expect(NumberText.timestamp(1_435_781_451_780) == "1435781451.780")
        #expect(NumberText.timestamp(1_435_781_451_005) == "1435781451.005")
        #expect(NumberText.timestamp(1_435_781_451_000) == "1435781451")
        #expect(NumberText.timestamp(-1_500) == "-1.500")
        #expect(NumberText.scalarTimestamp(1_435_781_451_780) == "1435781451.78")
    }

    @Test func anInstantQueryAnswersAVectorWithStringValues() throws {
        let (store, path) = try Self.store()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let api = PrometheusAPI(store: store)
        let answer = api.answer(
            "/query",
            form: [
                (
                    "query",
                    #"sum(gateway_function_invocation_total{function_name=~".*.openfaas-fn"}) by (function_name)"#
                ), ("time", "300"),
            ],
            now: 0)
        #expect(answer.status == 200 && answer.contentType == "application/json")
        #expect(
            answer.body == #"{"status":"success","data":{"resultType":"vector","result":["#
                + #"{"metric":{"function_name":"a.openfaas-fn"},"value":[300,"20"]},"#
                + #"{"metric":{"function_name":"b.openfaas-fn"},"value":[300,"20"]}]}}"#)
        let tiny = api.answer("/query", form: [("query", "tiny"), ("time", "300.5")], now: 0)
        #expect(tiny.body.contains(#""value":[300.500,"1e-07"]"#), "\(tiny.body)")
        let scalar = api.answer("/query", form: [("query", "scalar(tiny)"), ("time", "300.78")], now: 0)
        #expect(scalar.body == #"{"status":"success","data":{"resultType":"scalar","result":[300.78,"0.0000001"]}}"#)
        let string = api.answer("/query", form: [("query", #""a\"b""#), ("time", "1")], now: 0)
        #expect(string.body == #"{"status":"success","data":{"resultType":"string","result":[1,"a\"b"]}}"#)
        // Without `time`: now.
        let now = api.answer("/query", form: [("query", "time()")], now: 120_000)
        #expect(now.body.contains(#"[120,"120"]"#))
        // RFC 3339 times.
        let rfc = api.answer("/query", form: [("query", "time()"), ("time", "1970-01-01T00:02:00.5Z")], now: 0)
        #expect(rfc.body.contains(#"[120.5,"120.5"]"#), "\(rfc.body)")
    }

    @Test func aRangeQueryAnswersAMatrix() throws {
        let (store, path) = try Self.store()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let api = PrometheusAPI(store: store)
        let answer = api.answer(
            "/query_range",
            form: [
                ("query", #"gateway_function_invocation_total{function_name="a.openfaas-fn"}"#), ("start", "60"),
                ("end", "120"), ("step", "30s"),
            ], now: 0)
        #expect(
            answer.body == #"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"#
                + #""__name__":"gateway_function_invocation_total","code":"200","function_name":"a.openfaas-fn"},"#
                + #""values":[[60,"4"],[90,"6"],[120,"8"]]}]}}"#)
    }

    @Test(
        arguments: [
            ("/query", [("query", "sum(x")], 400, "bad_data", nil),
            (
                "/query", [("query", #"{job=~".*"}"#)], 400, "bad_data",
                #"invalid parameter "query": 1:1: parse error: vector selector must contain at least one non-empty matcher"#
            ),
            (
                "/query", [("query", "x"), ("time", "abc")], 400, "bad_data",
                #"invalid parameter "time": Invalid time value for 'time': cannot parse "abc" to a valid timestamp"#
            ),
            (
                "/query_range", [("query", "x"), ("start", "10"), ("end", "5"), ("step", "1")], 400, "bad_data",
                #"invalid parameter "end": end timestamp must not be before start time"#
            ),
            (
                "/query_range", [("query", "x"), ("start", "1"), ("end", "5"), ("step", "0")], 400, "bad_data",
                #"invalid parameter "step": zero or negative query resolution step widths are not accepted. Try a positive integer"#
            ),
            (
                "/query_range", [("query", "x"), ("start", "1"), ("end", "5")], 400, "bad_data",
                #"invalid parameter "step": cannot parse "" to a valid duration"#
            ),
            (
                "/query_range", [("query", "x"), ("start", "0"), ("end", "11001"), ("step", "1")], 400, "bad_data",
                "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)"
            ),
            (
                "/query_range", [("query", "x[5m]"), ("start", "0"), ("end", "10"), ("step", "1")], 400, "bad_data",
                #"invalid expression type "range vector" for range query, must be Scalar or instant Vector"#
            ),
            ("/series", [], 400, "bad_data", "no match[] parameter provided"),
            (
                "/series", [("match[]", #"{a=~".*"}"#)], 400, "bad_data",
                #"invalid parameter "match[]": match[] must contain at least one non-empty matcher"#
            ),
            ("/label/bad-name/values", [], 400, "bad_data", #"invalid label name: "bad-name""#),
            ("/query", [("query", #"label_replace(tiny, "x", "$1", "y", "(")"#)], 422, "execution", nil),
        ] as [(String, [(String, String)], Int, String, String?)])
    func badRequestsGetPrometheussErrors(
        path: String, form: [(String, String)], status: Int, type: String, message: String?
    ) throws {
        let (store, directory) = try Self.store()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let answer = PrometheusAPI(store: store).answer(path, form: form, now: 0)
        #expect(answer.status == status)
        let object = try Self.json(answer)
        #expect(object["status"] as? String == "error")
        #expect(object["errorType"] as? String == type)
        if let message { #expect(object["error"] as? String == message) }
    }

    @Test func seriesLabelsAndValuesAreListed() throws {
        let (store, path) = try Self.store()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let api = PrometheusAPI(store: store)
        #expect(
            api.answer("/labels", form: [], now: 0).body
                == #"{"status":"success","data":["__name__","code","function_name"]}"#)
        #expect(
            api.answer("/label/__name__/values", form: [], now: 0).body
                == #"{"status":"success","data":["gateway_function_invocation_total","tiny"]}"#)
        #expect(
            api.answer("/label/function_name/values", form: [("match[]", "tiny")], now: 0).body
                == #"{"status":"success","data":[]}"#)
        let series = api.answer(
            "/series", form: [("match[]", "tiny"), ("match[]", #"{function_name="b.openfaas-fn"}"#)], now: 0)
        #expect(
            series.body == #"{"status":"success","data":[{"__name__":"gateway_function_invocation_total","#
                + #""code":"200","function_name":"b.openfaas-fn"},{"__name__":"tiny"}]}"#)
        #expect(api.answer("/status/buildinfo", form: [], now: 0).body.contains(#""version":"2.42.0""#))
        #expect(api.answer("/nothing", form: [], now: 0).status == 404)
    }

    @Test func aQueryThatWouldReadTooManySamplesIsRefused() throws {
        let (store, path) = try Self.store()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let api = PrometheusAPI(store: store, maximumSamples: 60)
        let within = api.answer("/query", form: [("query", "tiny[10m]"), ("time", "600")], now: 0)
        #expect(within.status == 200)
        let beyond = api.answer(
            "/query", form: [("query", "gateway_function_invocation_total[10m]"), ("time", "600")], now: 0)
        #expect(beyond.status == 422)
        #expect(
            try Self.json(beyond)["error"] as? String
                == "query processing would load too many samples into memory in query execution")
        // Listing series reads no samples: never refused for their number.
        #expect(api.answer("/series", form: [("match[]", "gateway_function_invocation_total")], now: 0).status == 200)
    }

    @Test func aQueryPastItsTimeoutFailsWithTimeout() throws {
        let (store, path) = try Self.store()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let answer = PrometheusAPI(store: store).answer(
            "/query_range",
            form: [("query", "tiny"), ("start", "0"), ("end", "600"), ("step", "1"), ("timeout", "0s")],
            now: 0)
        #expect(answer.status == 503)
        #expect(try Self.json(answer)["errorType"] as? String == "timeout")
    }
}
