import SkiffMetrics
import SkiffRuntime

/// `gateway_service_count{function_name}`: each function's available replicas, as OpenFaaS's gateway exports it.
/// Read from the runtime's memory when collected, never by asking containerd (a `ctr` process per scrape would let
/// any caller of the unauthenticated `/metrics` fork processes at will).
struct ReplicaMetrics: MetricsCollector {
    let runtime: any FunctionRuntime

    func collect() async -> [MetricFamily] {
        var family = MetricFamily("gateway_service_count", .gauge, help: "Current count of replicas for function")
        let functions = await runtime.listAll().sorted {
            ($0.definition.name, $0.definition.namespace) < ($1.definition.name, $1.definition.namespace)
        }
        for function in functions {
            family.add(
                [MetricLabel("function_name", "\(function.definition.name).\(function.definition.namespace)")],
                Double(function.availableReplicas))
        }
        return [family]
    }
}
