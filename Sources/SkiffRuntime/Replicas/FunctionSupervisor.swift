import Foundation
import SkiffAPI
import SkiffLog
import SkiffPOSIX

/// Keeps one function's replicas where its record says they should be: starts and probes new ones, restarts
/// crashed ones with back-off, drains and removes surplus ones, and rolls updates without downtime. One actor
/// per function; changes (deploy, update, scale, remove) run one at a time, in arrival order.
actor FunctionSupervisor {
    let lifecycle: ReplicaLifecycle
    let probe: ReadinessProbe
    let endpointTable: EndpointTable
    let desiredState: DesiredState
    let restarts: DeadlineScheduler<ContinuousClock>
    let logger: Logger
    /// Finds the image again when it was missing at start-up (deleted from containerd, imported later).
    let resolveImage: @Sendable (FunctionDefinition) async throws -> ResolvedImage
    private(set) var record: FunctionRecord
    var image: ResolvedImage
    var members: [String: Member] = [:]
    var isRemoved = false
    var isBusy = false
    var waiters: [CheckedContinuation<Void, Never>] = []
    /// Counts changes as they arrive; the running one holds its number in `currentChange`.
    var latestChange = 0
    var currentChange = 0
    /// The previous generation's replicas while an update brings up the new one: they stay in rotation until
    /// the new generation is ready, whatever happens to the new replicas meanwhile (a crash included).
    var retiring: [String: Member] = [:]

    struct Member {
        var replica: Replica
        var phase: ReplicaStatus.Phase
        var pid: Int32?
        var restarts = 0
        /// Crashes since the replica last ran for a while; drives the back-off.
        var consecutiveCrashes = 0
        var lastExit: ExitRecord?
        var startedAt: ContinuousClock.Instant?
        var isBringingUp = false
        /// How the gateway reaches it once ready.
        var route = ReplicaRoute.bridge
        /// The pending restart of a crashed replica, on the runtime's scheduler.
        var restart: DeadlineScheduler<ContinuousClock>.Handle?
        /// Order of creation, for choosing which replicas to stop first.
        var serial: Int
    }
    var serial = 0

    init(
        record: FunctionRecord, image: ResolvedImage, lifecycle: ReplicaLifecycle, probe: ReadinessProbe,
        endpointTable: EndpointTable, desiredState: DesiredState, restarts: DeadlineScheduler<ContinuousClock>,
        logger: Logger, resolveImage: @escaping @Sendable (FunctionDefinition) async throws -> ResolvedImage
    ) {
        self.resolveImage = resolveImage
        self.restarts = restarts
        self.record = record
        self.image = image
        self.lifecycle = lifecycle
        self.probe = probe
        self.endpointTable = endpointTable
        self.desiredState = desiredState
        self.logger = logger.with([
            "function": record.definition.name, "namespace": record.definition.namespace,
        ])
    }

    var configuration: RuntimeConfiguration { lifecycle.configuration }
    var namespace: String { record.definition.namespace }
    var name: String { record.definition.name }

    var gracePeriod: Duration {
        record.definition.envVars["grace_period"].flatMap {
            try? GoDuration.parse($0, field: "grace_period", atMost: GoDuration.gracePeriodLimit)
        }
            ?? configuration.gracePeriod
    }

    // MARK: One change at a time

    /// Changes (deploy, update, scale, remove) and crash restarts run one at a time, in arrival order. A newer
    /// change supersedes the one in progress: the older one stops waiting for replicas to become ready and
    /// answers 409, and the newer one takes over from wherever it stopped, so a scale to 0 or a remove never
    /// queues behind a convergence of many replicas that cannot get ready. A restart supersedes nothing.
    func exclusive<T: Sendable>(restart: Bool = false, _ body: () async throws -> T) async throws -> T {
        if !restart { latestChange += 1 }
        let ticket = latestChange
        if isBusy {
            await withCheckedContinuation { waiters.append($0) }
        }
        isBusy = true
        currentChange = ticket
        defer {
            if waiters.isEmpty { isBusy = false } else { waiters.removeFirst().resume() }
        }
        return try await body()
    }

    /// Whether a change newer than the one running has arrived.
    var isSuperseded: Bool { currentChange != latestChange }

    // MARK: Changes

    /// First deploy: the record is committed only once the replicas are ready; on failure nothing remains.
    func deploy() async throws {
        try await exclusive {
            do {
                try await converge(deadline: ContinuousClock.now + configuration.deployTimeout)
                try desiredState.save(record)
            } catch {
                await removeAll(grace: .zero)
                throw error
            }
        }
    }

    func scale(to replicas: Int) async throws {
        try await exclusive {
            guard !isRemoved else { throw FunctionRuntimeError.notFound("function \(name) was removed") }
            // A missing image is found (or reported) before anything is recorded.
            if image.chainID.isEmpty { image = try await resolveImage(record.definition) }
            try commit(replicas: replicas)
            try await converge(deadline: ContinuousClock.now + configuration.deployTimeout)
        }
    }

    /// Rolling update: new replicas of the new generation start and become ready, then the old ones drain.
    /// On failure the new ones are removed and the old definition stays.
    func update(_ definition: FunctionDefinition, image newImage: ResolvedImage, generation: String) async throws {
        try await exclusive {
            guard !isRemoved else { throw FunctionRuntimeError.notFound("function \(name) was removed") }
            let old = members
            let oldRecord = record
            let oldImage = image
            record.definition = definition
            record.generation = generation
            image = newImage
            members = [:]
            retiring = old
            do {
                try await converge(deadline: ContinuousClock.now + configuration.deployTimeout)
                try desiredState.save(record)
            } catch {
                let failed = members
                members = old
                retiring = [:]
                record = oldRecord
                image = oldImage
                publish()
                await withTaskGroup(of: Void.self) { group in
                    for member in failed.values {
                        cancelRestart(of: member)
                        group.addTask { await self.lifecycle.destroy(member.replica, pid: member.pid) }
                    }
                }
                throw error
            }
            // The new replicas serve; the old ones finish the requests they have, then stop.
            retiring = [:]
            publish()
            let grace = gracePeriod
            await endpointTable.waitUntilIdle(old.values.map(\.replica.id), deadline: .now + grace)
            await withTaskGroup(of: Void.self) { group in
                for member in old.values {
                    cancelRestart(of: member)
                    group.addTask { await self.lifecycle.destroy(member.replica, pid: member.pid, grace: grace) }
                }
            }
        }
    }

    func remove() async throws {
        try await exclusive {
            isRemoved = true
            await removeAll(grace: gracePeriod)
            try desiredState.delete(namespace: namespace, name: name)
            try? FileManager.default.removeItem(
                atPath: lifecycle.logs.files.functionDirectory(namespace: namespace, name: name))
        }
    }

    /// A function at zero (or with none ready) gets a replica: scaled to one and converged. Replicas already
    /// starting (or restarting) are left to come up; the caller waits for a publication in the endpoint table.
    func wake(deadline: ContinuousClock.Instant) async throws {
        if !endpointTable.get(namespace, name).isEmpty { return }
        try await exclusive {
            guard !isRemoved else { throw FunctionRuntimeError.notFound("function \(name) was removed") }
            if record.replicas == 0 {
                try commit(replicas: 1)
                logger.info("scaling from zero")
            }
            try await converge(deadline: deadline)
        }
    }

    /// Records a new replica count durably first; memory follows only once the record is on disk, so a failed
    /// save (a full disk) leaves the function as it was.
    func commit(replicas: Int) throws {
        var changed = record
        changed.replicas = replicas
        try desiredState.save(changed)
        record = changed
    }

    // MARK: Reading

    func status() -> FunctionStatus {
        let sorted = members.values.sorted { $0.serial < $1.serial }
        return FunctionStatus(
            definition: record.definition, resolvedImage: image.reference, replicas: record.replicas,
            availableReplicas: sorted.filter { $0.phase == .ready }.count, createdAt: record.createdAt,
            instances: sorted.map {
                ReplicaStatus(
                    id: $0.replica.id, address: $0.replica.address, phase: $0.phase, restarts: $0.restarts,
                    lastExit: $0.lastExit)
            })
    }
}
