import Foundation
import SkiffContainerd
import SkiffLog
import SkiffPOSIX

/// Restore: the replicas found in containerd at start-up, adopted or brought back.
extension FunctionSupervisor {
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
                                Processes.isRunningOrUnknown(pid)
                            }) ?? nil
                        await self.adopted(id, route: route)
                    }
                }
            }
            try await converge(deadline: deadline)
        }
    }

    func adopted(_ id: String, route: ReplicaRoute?) {
        guard members[id]?.phase == .starting else { return }
        if let route {
            members[id]?.route = route
            members[id]?.phase = .ready
            publish()
        } else {
            crashed(id, status: nil, reason: "was not ready after restart")
        }
    }
}
