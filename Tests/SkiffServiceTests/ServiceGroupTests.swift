import Glibc
import Synchronization
import Testing

@testable import SkiffService

final class StopLog: Sendable {
    let names = Mutex<[String]>([])
}

struct WaitingService: Service {
    let name: String
    let stopped: StopLog
    func run() async throws {
        while !Task.isCancelled { try? await Task.sleep(for: .milliseconds(5)) }
        stopped.names.withLock { $0.append(name) }
    }
}

struct FailingService: Service {
    struct Broken: Error {}
    let name = "broken"
    func run() async throws {
        try await Task.sleep(for: .milliseconds(20))
        throw Broken()
    }
}

@Suite("Service group")
struct ServiceGroupTests {
    @Test func aFailingServiceStopsTheOthers() async {
        let stopped = StopLog()
        let group = ServiceGroup(
            services: [WaitingService(name: "a", stopped: stopped), FailingService()], signals: nil)
        let exit = await group.run()
        #expect(exit == .serviceFailed("broken", "Broken()"))
        #expect(stopped.names.withLock { $0 } == ["a"])
    }

    @Test func cancellationStopsEveryService() async {
        let stopped = StopLog()
        let group = ServiceGroup(
            services: [WaitingService(name: "a", stopped: stopped), WaitingService(name: "b", stopped: stopped)],
            signals: nil)
        let task = Task { await group.run() }
        try? await Task.sleep(for: .milliseconds(30))
        task.cancel()
        #expect(await task.value == .cancelled)
        #expect(stopped.names.withLock { $0.sorted() } == ["a", "b"])
    }

    @Test func aSignalStopsTheGroup() async throws {
        let stopped = StopLog()
        let signals = try SignalListener(signals: [SIGUSR2])
        // Sent before the group even runs: the listener remembers it.
        kill(getpid(), SIGUSR2)
        let group = ServiceGroup(services: [WaitingService(name: "a", stopped: stopped)], signals: signals)
        let task = Task { await group.run() }
        #expect(await task.value == .signal(SIGUSR2))
        #expect(stopped.names.withLock { $0 } == ["a"])
    }
}
