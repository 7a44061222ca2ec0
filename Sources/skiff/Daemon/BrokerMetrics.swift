import SkiffMetrics
import SkiffNATS

/// The NATS broker's counters (those its `/varz` shows) in the daemon's registry, and so in the metrics store.
struct BrokerMetrics: MetricsCollector {
    let server: NATSServer

    func collect() async -> [MetricFamily] {
        let statistics = await server.statistics()
        return [
            .single(
                "skiff_nats_connections", .gauge, help: "Clients connected to the NATS broker now.",
                Double(statistics.connections)),
            .single(
                "skiff_nats_connections_total", .counter, help: "Clients the NATS broker has accepted.",
                Double(statistics.totalConnections)),
            .single(
                "skiff_nats_subscriptions", .gauge, help: "Subscriptions on the NATS broker now.",
                Double(statistics.subscriptions)),
            .single(
                "skiff_nats_messages_received_total", .counter, help: "Messages published to the NATS broker.",
                Double(statistics.inMsgs)),
            .single(
                "skiff_nats_messages_sent_total", .counter, help: "Messages the NATS broker delivered.",
                Double(statistics.outMsgs)),
            .single(
                "skiff_nats_received_bytes_total", .counter, help: "Payload bytes published to the NATS broker.",
                Double(statistics.inBytes)),
            .single(
                "skiff_nats_sent_bytes_total", .counter, help: "Payload bytes the NATS broker delivered.",
                Double(statistics.outBytes)),
            .single(
                "skiff_nats_slow_consumers_total", .counter, help: "Clients dropped for not reading fast enough.",
                Double(statistics.slowConsumers)),
        ]
    }
}
