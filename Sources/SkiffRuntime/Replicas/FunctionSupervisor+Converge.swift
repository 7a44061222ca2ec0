import Foundation
import SkiffAPI
import SkiffLog
import SkiffPOSIX

/// Converging: bringing the current generation's members to the recorded count (start, probe, publish, drain,
/// stop), one replica's bring-up at a time.
extension FunctionSupervisor {
    /// Brings the members of the current generation to `record.replicas`: starts idle ones, prepares and starts
    /// more, or stops the surplus. At zero one replica stays prepared (idle), so a cold start is a task start.
    func converge(deadline: ContinuousClock.Instant) async throws {
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

    func add(_ replica: Replica, phase: ReplicaStatus.Phase) {
        serial += 1
        members[replica.id] = Member(replica: replica, phase: phase, serial: serial)
    }

    /// Starts a member's task and waits for readiness. A replica that dies or stays unready is marked
    /// crashed and gets a restart scheduled; the result is nil when it is ready, else why not.
    func bringUp(_ id: String, deadline: ContinuousClock.Instant) async -> String? {
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
                await !self.isSuperseded && Processes.isRunningOrUnknown(pid)
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
                Processes.isRunningOrUnknown(pid)
                ? "GET /_/health on port \(configuration.functionPort) did not succeed in time"
                : "its process exited while starting"
            crashed(id, status: nil, reason: reason)
            return reason
        } catch {
            crashed(id, status: nil, reason: "failed to start: \(error)")
            return "\(error)"
        }
    }

    func stopMembers(_ ids: [String], keepIdle: String?) async throws {
        for id in ids { members[id]?.phase = .stopping }
        publish()
        let grace = gracePeriod
        await endpointTable.waitUntilIdle(ids.compactMap { members[$0]?.replica.id }, deadline: .now + grace)
        await withTaskGroup(of: Void.self) { group in
            for id in ids {
                guard let member = members[id] else { continue }
                cancelRestart(of: member)
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

    func removeAll(grace: Duration) async {
        let all = members
        members = [:]
        publish()
        await endpointTable.waitUntilIdle(all.values.map(\.replica.id), deadline: .now + grace)
        await withTaskGroup(of: Void.self) { group in
            for member in all.values {
                cancelRestart(of: member)
                group.addTask { await self.lifecycle.destroy(member.replica, pid: member.pid, grace: grace) }
            }
        }
    }

    func publish() {
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
}
