import Foundation
import SkiffLog
import SkiffQueue
import SkiffTestSupport
import Testing

@testable import SkiffQueue

/// Schedules as the cron-connector reads them, the decision to fire after a restart, and a scheduled function
/// called through the queue.
@Suite("Cron triggers")
struct CronTriggerTests {
    private let utc = TimeZone(identifier: "UTC") ?? .current

    private func date(_ text: String) throws -> Date {
        try #require(ISO8601DateFormatter().date(from: text))
    }

    private func next(_ schedule: String, after text: String) throws -> String? {
        try CronSchedule(schedule).next(after: try date(text), in: utc).map { ISO8601DateFormatter().string(from: $0) }
    }

    @Test func nextFiringsFollowCronsRules() throws {
        #expect(try next("*/15 * * * *", after: "2026-12-04T10:07:30Z") == "2026-12-04T10:15:00Z")
        #expect(try next("*/15 * * * *", after: "2026-12-04T10:15:00Z") == "2026-12-04T10:30:00Z")
        // 2026-12-04 is a Friday: weekdays at nine means Monday.
        #expect(try next("0 9 * * mon-fri", after: "2026-12-04T10:00:00Z") == "2026-12-07T09:00:00Z")
        #expect(try next("30 2 1 jan,jul *", after: "2026-12-04T00:00:00Z") == "2027-01-01T02:30:00Z")
        // Day of month and day of week both given: either one (the 13th, or a Friday).
        #expect(try next("0 0 13 * 5", after: "2026-12-05T00:00:00Z") == "2026-12-11T00:00:00Z")
        #expect(try next("0 0 * * 7", after: "2026-12-04T00:00:00Z") == "2026-12-06T00:00:00Z")
        #expect(try next("@hourly", after: "2026-12-04T10:07:00Z") == "2026-12-04T11:00:00Z")
        #expect(try next("@weekly", after: "2026-12-04T10:07:00Z") == "2026-12-06T00:00:00Z")
        #expect(try next("@every 90s", after: "2026-12-04T10:07:00Z") == "2026-12-04T10:08:30Z")
        #expect(try next("0 0 30 2 *", after: "2026-12-04T00:00:00Z") == nil)
        for bad in [
            "", "* * * *", "60 * * * *", "* 24 * * *", "5-1 * * * *", "*/0 * * * *", "@every 10ms", "@sometimes",
        ] {
            #expect(throws: CronSchedule.Invalid.self, "\(bad)") { _ = try CronSchedule(bad) }
        }
    }

    /// A new binding waits for its next slot; after any number of missed slots it fires once; before its slot,
    /// nothing.
    @Test func missedSlotsFireOnceAndNewBindingsWait() throws {
        let schedule = try CronSchedule("*/5 * * * *")
        let now = try date("2026-12-04T10:31:00Z")
        #expect(CronTriggers.decide(lastFired: nil, now: now, schedule: schedule, timeZone: utc) == (false, now))
        let longAgo = try date("2026-12-04T08:00:00Z")
        #expect(CronTriggers.decide(lastFired: longAgo, now: now, schedule: schedule, timeZone: utc) == (true, now))
        let recent = try date("2026-12-04T10:30:00Z")
        #expect(CronTriggers.decide(lastFired: recent, now: now, schedule: schedule, timeZone: utc) == (false, recent))
    }

    /// An unreadable schedule, or the cron topic without one, is a 400 that names the problem, and nothing is
    /// deployed or changed.
    @Test func anUnreadableScheduleIsRefusedAtDeploy() async throws {
        try await withInMemoryGateway { gw in
            for annotations in [
                #"{"topic":"cron-function","schedule":"61 * * * *"}"#, #"{"topic":"nats-topic, cron-function"}"#,
            ] {
                let refused = try await gw.call(
                    .post, "/system/functions",
                    json: #"{"service":"tick","image":"local/tick:1","annotations":\#(annotations)}"#)
                #expect(refused.status == 400 && refused.text.contains("schedule"), "\(refused.text)")
            }
            #expect(try await gw.call(.get, "/system/function/tick").status == 404)
            #expect(try await gw.deploy("tick") == 200)
            let every0s = #"{"topic":"cron-function","schedule":"@every 0s"}"#
            let update = try await gw.call(
                .put, "/system/functions",
                json: #"{"service":"tick","image":"local/tick:2","annotations":\#(every0s)}"#)
            #expect(update.status == 400, "\(update.text)")
            let kept = try await gw.call(.get, "/system/function/tick")
            #expect(kept.text.contains("local/tick:1"), "\(kept.text)")
        }
    }

    /// `@every 1s` on a deployed function: it is called through the queue, again and again, with the connector's
    /// header; its last firing is kept on disk.
    @Test func aScheduledFunctionIsCalledThroughTheQueue() async throws {
        try await withInMemoryGateway(queueRetry: RetryPolicy()) { gw in
            let queue = try #require(gw.queue)
            let stateFile = "\(gw.state)/triggers/cron.json"
            let triggers = CronTriggers(
                queue: queue, runtime: gw.runtime, stateFile: stateFile,
                logger: Logger(label: "cron", handler: MemoryLogHandler()))
            let running = Task { await triggers.run() }
            defer { running.cancel() }
            let annotations = #"{"topic":"cron-function","schedule":"@every 1s"}"#
            let deployed = try await gw.call(
                .post, "/system/functions",
                json: #"{"service":"tick","image":"local/tick:1","annotations":\#(annotations)}"#)
            #expect(deployed.status == 200, "\(deployed.text)")
            let called = await eventually(timeout: .seconds(60)) { gw.connectorCalls.times.withLock { $0.count } >= 2 }
            #expect(called)
            #expect(FileManager.default.fileExists(atPath: stateFile))
        }
    }
}
