import Foundation
import SkiffAPI
import Testing

/// The one function model on the wire: what faas-cli sends to deploy, what list and describe answer, and the
/// runtime's durable record, which older versions wrote with every key present.
@Suite("the function model on the wire")
struct FunctionModelTests {
    private func json(_ value: some Encodable) throws -> [String: Any] {
        let data = try JSONEncoder().encode(value)
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    @Test func aDeployBodyAsFaasCLISendsItReadsAsTheDefinition() throws {
        // faas-cli sends empty strings and nulls for what the stack file leaves out, and keys Skiff ignores.
        let body = """
            {"service":"hello","image":"local/hello:1","namespace":"","envProcess":"","network":"func_functions",
             "envVars":null,"labels":{"com.openfaas.scale.min":"2"},"annotations":null,"secrets":["api-key"],
             "limits":{"memory":"128Mi","cpu":""},"requests":{"memory":"","cpu":""},"registryAuth":""}
            """
        let deployment = try JSONDecoder().decode(FunctionDeployment.self, from: Data(body.utf8))
        #expect(
            deployment.definition(defaultNamespace: "openfaas-fn")
                == FunctionDefinition(
                    name: "hello", namespace: "openfaas-fn", image: "local/hello:1",
                    labels: ["com.openfaas.scale.min": "2"], secrets: ["api-key"],
                    limits: FunctionResources(memory: "128Mi")))
        // A namespace the body names wins over the default.
        let named = try JSONDecoder().decode(
            FunctionDeployment.self, from: Data(#"{"service":"a","image":"b","namespace":"team"}"#.utf8))
        #expect(named.definition(defaultNamespace: "openfaas-fn").namespace == "team")
        // What the CLI sends carries `service`, never `name`, and no namespace it was not given.
        let sent = try json(FunctionDeployment(FunctionDefinition(name: "a", namespace: "", image: "b")))
        #expect(sent["service"] as? String == "a" && sent["name"] == nil && sent["namespace"] == nil)
    }

    @Test func aBodyWithoutServiceOrImageIsRefused() {
        for body in [#"{"image":"b"}"#, #"{"service":"a"}"#, #"{"service":7,"image":"b"}"#] {
            #expect(throws: DecodingError.self) {
                _ = try JSONDecoder().decode(FunctionDeployment.self, from: Data(body.utf8))
            }
        }
    }

    @Test func listAndDescribeOmitWhatGoOmitsAndTheCLIReadsItBack() throws {
        let bare = FunctionSummary(
            definition: FunctionDefinition(name: "a", namespace: "openfaas-fn", image: "b"), invocationCount: 0,
            replicas: 0, availableReplicas: 0, createdAt: "2026-12-06T08:00:00.5Z")
        let encoded = try json(bare)
        #expect(
            Set(encoded.keys)
                == [
                    "name", "image", "namespace", "labels", "annotations", "replicas", "availableReplicas", "createdAt",
                ])
        #expect(encoded["replicas"] as? Int == 0 && (encoded["labels"] as? [String: String])?.isEmpty == true)

        var full = bare
        full.definition.envProcess = "cat"
        full.definition.envVars = ["A": "1"]
        full.definition.secrets = ["s"]
        full.definition.constraints = ["x"]
        full.definition.limits = FunctionResources(memory: "64Mi", cpu: "100m")
        full.definition.readOnlyRootFilesystem = true
        full.invocationCount = 12
        full.replicas = 2
        full.availableReplicas = 1
        full.usage = FunctionSummary.Usage(cpu: 1.5, totalMemoryBytes: 4096)
        let decoded = try JSONDecoder().decode(FunctionSummary.self, from: JSONEncoder().encode(full))
        #expect(decoded == full)
    }

    @Test func aRecordWrittenWithEveryKeyStillReads() throws {
        // The runtime's record before the model was shared: every key present, empty ones included.
        let record = """
            {"annotations":{},"constraints":[],"envVars":{},"image":"local/keep:1","labels":{},"name":"keep",
             "namespace":"openfaas-fn","readOnlyRootFilesystem":false,"secrets":[],"limits":{"memory":"64Mi"}}
            """
        let definition = try JSONDecoder().decode(FunctionDefinition.self, from: Data(record.utf8))
        #expect(
            definition
                == FunctionDefinition(
                    name: "keep", namespace: "openfaas-fn", image: "local/keep:1",
                    limits: FunctionResources(memory: "64Mi")))
        #expect(try JSONDecoder().decode(FunctionDefinition.self, from: JSONEncoder().encode(definition)) == definition)
    }
}
