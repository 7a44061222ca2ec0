import Foundation
import SkiffLog
import SkiffPOSIX

/// Crashes: a replica's task exited or vanished; it is restarted with back-off, under the same exclusion as
/// every change.
extension FunctionSupervisor {
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
            if let pid = member.pid, !Processes.isRunningOrUnknown(pid) { crashed(id, status: nil, reason: "vanished") }
        }
    }

    func crashed(_ id: String, status: Int?, reason: String) {
        guard var member = members[id], !isRemoved else { return }
        let policy = RestartPolicy(
            initialDelay: configuration.initialRestartDelay, maximumDelay: configuration.maximumRestartDelay)
        member.consecutiveCrashes = policy.consecutiveCrashes(
            before: member.consecutiveCrashes, ranFor: member.startedAt.map { ContinuousClock.now - $0 })
        member.phase = .crashed
        member.restarts += 1
        if let status { member.lastExit = ExitRecord(status: status, at: Date()) }
        let delay = policy.delay(afterConsecutiveCrashes: member.consecutiveCrashes)
        let text =
            "replica \(id) \(reason)" + (status.map { " with status \($0)" } ?? "")
            + "; restarting in \(delay) (restart \(member.restarts))"
        logger.warning(text)
        lifecycle.logs.note(namespace: namespace, name: name, instance: id, "skiff: " + text)
        cancelRestart(of: member)
        member.restart = restarts.schedule(after: delay) { [weak self] in await self?.restartCrashed(id) }
        members[id] = member
        publish()
    }

    /// A restart that has not begun never will; one under way finishes under the exclusion (whoever wanted it
    /// gone waits for it there, then finds the replica as it left it).
    func cancelRestart(of member: Member) {
        if let restart = member.restart { restarts.cancel(restart) }
    }

    /// Under the same exclusion as every change: a remove or update that ran meanwhile has either taken the
    /// replica away (nothing to do) or left it to be restarted; a restart never races one (it once left a
    /// running task behind a remove, its address already released).
    func restartCrashed(_ id: String) async {
        _ = try? await exclusive(restart: true) {
            guard let member = members[id], member.phase == .crashed, !isRemoved else { return }
            members[id]?.restart = nil
            _ = await bringUp(id, deadline: ContinuousClock.now + configuration.deployTimeout)
        }
    }
}
