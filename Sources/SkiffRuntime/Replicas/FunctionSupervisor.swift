import Foundation
import SkiffLog

/// Keeps one function's replicas where its record says they should be: starts and probes new ones, restarts
/// crashed ones with back-off, drains and removes surplus ones, and rolls updates without downtime. One actor
/// per function; changes (deploy, update, scale, remove) run one at a time, in arrival order.
actor FunctionSupervisor {
    private let lifecycle: ReplicaLifecycle
    private let probe: ReadinessProbe
    private let endpointTable: EndpointTable
    private let desiredState: DesiredState
    private let logger: Logger
    /// Finds the image again when it was missing at start-up (deleted from containerd, imported later).
    private let resolveImage: @Sendable (FunctionDefinition) async throws -> ResolvedImage
    private(set) var record: FunctionRecord
    private var image: ResolvedImage
    private var members: [String: Member] = [:]
    private var isRemoved = false
    private var isBusy = false
    private var waiters: [CheckedContinuation<Void, Never>] = []
    /// Counts changes as they arrive; the running one holds its number in `currentChange`.
    private var latestChange = 0
    private var currentChange = 0
    /// The previous generation's replicas while an update brings up the new one: they stay in rotation until
    /// the new generation is ready, whatever happens to the new replicas meanwhile (a crash included).
    private var retiring: [String: Member] = [:]

    private struct Member {
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
        var restart: Task<Void, Never>?
        /// Order of creation, for choosing which replicas to stop first.
        var serial: Int
    }
    private var serial = 0

    init(
        record: FunctionRecord, image: ResolvedImage, lifecycle: ReplicaLifecycle, probe: ReadinessProbe,
        endpointTable: EndpointTable, desiredState: DesiredState, logger: Logger,
        resolveImage: @escaping @Sendable (FunctionDefinition) async throws -> ResolvedImage
    ) {
        self.resolveImage = resolveImage
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

    private var configuration: RuntimeConfiguration { lifecycle.configuration }
    private var namespace: String { record.definition.namespace }
    private var name: String { record.definition.name }

    private var gracePeriod: Duration {
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
    private func exclusive<T: Sendable>(restart: Bool = false, _ body: () async throws -> T) async throws -> T {
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
    private var isSuperseded: Bool { currentChange != latestChange }

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
                        member.restart?.cancel()
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
                    member.restart?.cancel()
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
    private func commit(replicas: Int) throws {
        var changed = record
        changed.replicas = replicas
        try desiredState.save(changed)
        record = changed
    }

    // MARK: Converging

    /// Brings the members of the current generation to `record.replicas`: starts idle ones, prepares and starts
    /// more, or stops the surplus. At zero one replica stays prepared (idle), so a cold start is a task start.
    private func converge(deadline: ContinuousClock.Instant) async throws {
        if image.chainID.isEmpty { image = try await resolveImage(record.definition) }
        let wanted = record.replicas
        var active = members.values.filter { $0.phase != .idle && $0.phase != .stopping }
        if active.count > wanted {
            // Not-ready replicas go first, then the newest.
            active.sort { lhs, rhs in
                if (lhs.phase == .ready) != (rhs.phase == .ready) { return lhs.phase != .ready }
                return lhs.serial > rhs.serial
            }
            let surplus = active.prefix(active.count - wanted).map(\.replica.id)
            let keepOneIdle = wanted == 0 && !members.values.contains { $0.phase == .idle }
            try await stopMembers(surplus, keepIdle: keepOneIdle ? surplus.first : nil)
        }
        if wanted == 0 {
            if !members.values.contains(where: { $0.phase == .idle }) {
                let replica = try await lifecycle.prepare(
                    record.definition, image: image, generation: record.generation)
                add(replica, phase: .idle)
            }
            publish()
            return
        }
        var missing = wanted - members.values.filter { $0.phase != .idle && $0.phase != .stopping }.count
        var toStart: [String] = []
        for member in members.values where member.phase == .idle && missing > 0 {
            toStart.append(member.replica.id)
            missing -= 1
        }
        // In batches: a request for many replicas must not start dozens of ctr and CNI processes at once.
        while missing > 0 && !isSuperseded {
            let count = min(missing, Self.parallelBringUps)
            let definition = record.definition
            let image = self.image
            let generation = record.generation
            let prepared = try await withThrowingTaskGroup(of: Replica.self) { group in
                for _ in 0..<count {
                    group.addTask { try await self.lifecycle.prepare(definition, image: image, generation: generation) }
                }
                var prepared: [Replica] = []
                do {
                    for try await replica in group { prepared.append(replica) }
                } catch {
                    for replica in prepared { await lifecycle.destroy(replica) }
                    throw error
                }
                return prepared
            }
            for replica in prepared {
                add(replica, phase: .idle)
                toStart.append(replica.id)
            }
            missing -= count
        }
        var failures: [String] = []
        var started = 0
        while started < toStart.count && !isSuperseded {
            let batch = toStart[started..<min(started + Self.parallelBringUps, toStart.count)]
            started += batch.count
            failures += await withTaskGroup(of: String?.self) { group in
                for id in batch { group.addTask { await self.bringUp(id, deadline: deadline) } }
                var failures: [String] = []
                for await failure in group { if let failure { failures.append(failure) } }
                return failures
            }
        }
        if isSuperseded {
            throw FunctionRuntimeError.conflict(
                "a newer change to \(name) arrived before this one had finished; the newer one applies")
        }
        if let reason = failures.first {
            throw FunctionRuntimeError.timedOut(
                "\(failures.count) of \(toStart.count) new replicas of \(name) did not become ready: \(reason); "
                    + "see `skiff logs \(name)`")
        }
    }

    /// Replicas prepared or started at once by one change.
    static let parallelBringUps = 8

    private func add(_ replica: Replica, phase: ReplicaStatus.Phase) {
        serial += 1
        members[replica.id] = Member(replica: replica, phase: phase, serial: serial)
    }

    /// Starts a member's task and waits for readiness. A replica that dies or stays unready is marked
    /// crashed and gets a restart scheduled; the result is nil when it is ready, else why not.
    private func bringUp(_ id: String, deadline: ContinuousClock.Instant) async -> String? {
        guard var member = members[id] else { return "it was removed" }
        member.phase = .starting
        member.isBringingUp = true
        members[id] = member
        defer { members[id]?.isBringingUp = false }
        do {
            let pid = try await lifecycle.start(member.replica)
            members[id]?.pid = pid
            members[id]?.startedAt = .now
            let route = try await probe.waitUntilReady(member.replica, deadline: deadline) {
                await !self.isSuperseded && ReplicaLifecycle.isRunning(pid)
            }
            guard members[id]?.phase == .starting else { return "it stopped while starting" }
            if route == nil && isSuperseded {
                // Left to the newer change: it keeps, stops or restarts this replica like any other not ready.
                crashed(id, status: nil, reason: "was still starting when a newer change arrived")
                return "superseded"
            }
            if let route {
                members[id]?.route = route
                members[id]?.phase = .ready
                publish()
                return nil
            }
            let reason =
                ReplicaLifecycle.isRunning(pid)
                ? "GET /_/health on port \(configuration.functionPort) did not succeed in time"
                : "its process exited while starting"
            crashed(id, status: nil, reason: reason)
            return reason
        } catch {
            crashed(id, status: nil, reason: "failed to start: \(error)")
            return "\(error)"
        }
    }

    private func stopMembers(_ ids: [String], keepIdle: String?) async throws {
        for id in ids { members[id]?.phase = .stopping }
        publish()
        let grace = gracePeriod
        await endpointTable.waitUntilIdle(ids.compactMap { members[$0]?.replica.id }, deadline: .now + grace)
        await withTaskGroup(of: Void.self) { group in
            for id in ids {
                guard let member = members[id] else { continue }
                member.restart?.cancel()
                if id == keepIdle {
                    group.addTask { await self.lifecycle.stop(member.replica, pid: member.pid, grace: grace) }
                } else {
                    group.addTask { await self.lifecycle.destroy(member.replica, pid: member.pid, grace: grace) }
                }
            }
        }
        for id in ids {
            if id == keepIdle {
                members[id]?.phase = .idle
                members[id]?.pid = nil
                members[id]?.restart = nil
            } else {
                members[id] = nil
            }
        }
    }

    private func removeAll(grace: Duration) async {
        let all = members
        members = [:]
        publish()
        await endpointTable.waitUntilIdle(all.values.map(\.replica.id), deadline: .now + grace)
        await withTaskGroup(of: Void.self) { group in
            for member in all.values {
                member.restart?.cancel()
                group.addTask { await self.lifecycle.destroy(member.replica, pid: member.pid, grace: grace) }
            }
        }
    }

    private func publish() {
        var serving: [Member] = Array(members.values)
        serving.append(contentsOf: retiring.values)
        let ready = serving.filter { $0.phase == .ready }.sorted { $0.serial < $1.serial }
        endpointTable.set(
            namespace, name,
            ready.map {
                ReplicaEndpoint(
                    id: $0.replica.id, host: $0.replica.address, port: configuration.functionPort,
                    networkNamespace: $0.route == .loopback ? NetworkNamespaces.path($0.replica.networkNamespace) : nil)
            })
    }

    // MARK: Crashes

    /// containerd reported that a replica's task exited.
    func taskExited(_ id: String, status: Int?) {
        guard let member = members[id], member.phase == .ready || member.phase == .starting else { return }
        if member.isBringingUp {
            // bringUp sees the process gone and takes it from there; keep the status for describe.
            if let status { members[id]?.lastExit = ExitRecord(status: status, at: Date()) }
            return
        }
        crashed(id, status: status, reason: "exited")
    }

    /// Finds replicas whose process is gone without an event (missed while `ctr events` restarted).
    func resync() {
        for (id, member) in members where member.phase == .ready {
            if let pid = member.pid, !ReplicaLifecycle.isRunning(pid) { crashed(id, status: nil, reason: "vanished") }
        }
    }

    private func crashed(_ id: String, status: Int?, reason: String) {
        guard var member = members[id], !isRemoved else { return }
        if let started = member.startedAt, ContinuousClock.now - started > .seconds(60) {
            member.consecutiveCrashes = 0
        }
        member.phase = .crashed
        member.restarts += 1
        member.consecutiveCrashes += 1
        if let status { member.lastExit = ExitRecord(status: status, at: Date()) }
        let exponent = min(member.consecutiveCrashes - 1, 16)
        let delay = min(configuration.initialRestartDelay * (1 << exponent), configuration.maximumRestartDelay)
        let text =
            "replica \(id) \(reason)" + (status.map { " with status \($0)" } ?? "")
            + "; restarting in \(delay) (restart \(member.restarts))"
        logger.warning(text)
        lifecycle.logs.note(namespace: namespace, name: name, instance: id, "skiff: " + text)
        member.restart?.cancel()
        member.restart = Task { [weak self] in
            try? await Task.sleep(for: delay)
            guard !Task.isCancelled else { return }
            await self?.restartCrashed(id)
        }
        members[id] = member
        publish()
    }

    /// Under the same exclusion as every change: a remove or update that ran meanwhile has either taken the
    /// replica away (nothing to do) or left it to be restarted; a restart never races one (it once left a
    /// running task behind a remove, its address already released).
    private func restartCrashed(_ id: String) async {
        _ = try? await exclusive(restart: true) {
            guard let member = members[id], member.phase == .crashed, !isRemoved else { return }
            members[id]?.restart = nil
            _ = await bringUp(id, deadline: ContinuousClock.now + configuration.deployTimeout)
        }
    }

    // MARK: Restore

    /// Takes over replicas found in containerd at start-up. Running tasks are adopted (and probed); replicas
    /// without a task get their network and rootfs back; then the count converges to the record.
    func adopt(_ found: [(replica: Replica, task: Ctr.TaskInfo?)]) async throws {
        try await exclusive {
            for (replica, task) in found {
                do {
                    let restored = try await lifecycle.restore(replica)
                    if let task, task.status == "RUNNING" {
                        add(restored, phase: .starting)
                        members[restored.id]?.pid = task.pid
                        members[restored.id]?.startedAt = .now
                    } else {
                        try? await lifecycle.ctr.deleteTask(replica.namespace, replica.id, force: true)
                        add(restored, phase: .idle)
                    }
                } catch {
                    logger.error("cannot restore replica \(replica.id): \(error); removing it")
                    await lifecycle.destroy(replica)
                }
            }
            let deadline = ContinuousClock.now + configuration.deployTimeout
            await withTaskGroup(of: Void.self) { group in
                for (id, member) in members where member.phase == .starting {
                    let replica = member.replica
                    let pid = member.pid ?? 0
                    group.addTask {
                        let route =
                            (try? await self.probe.waitUntilReady(replica, deadline: deadline) {
                                ReplicaLifecycle.isRunning(pid)
                            }) ?? nil
                        await self.adopted(id, route: route)
                    }
                }
            }
            try await converge(deadline: deadline)
        }
    }

    private func adopted(_ id: String, route: ReplicaRoute?) {
        guard members[id]?.phase == .starting else { return }
        if let route {
            members[id]?.route = route
            members[id]?.phase = .ready
            publish()
        } else {
            crashed(id, status: nil, reason: "was not ready after restart")
        }
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
