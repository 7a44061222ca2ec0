import Foundation

/// `GET /system/queue` (Skiff's own route): the asynchronous calls per function, the dead letters, and the
/// queues (`faas-request` and every named one).
public struct QueueSummary: Codable, Sendable, Equatable {
    public var functions: [Function]
    public var dead: [DeadCall]
    public var queues: [Queue]
    /// Callbacks stored and not yet delivered (their receiver refused or was down; they are tried again).
    public var callbacks: Int

    public init(functions: [Function], dead: [DeadCall], queues: [Queue] = [], callbacks: Int = 0) {
        self.functions = functions
        self.dead = dead
        self.queues = queues
        self.callbacks = callbacks
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        functions = try container.decode([Function].self, forKey: .functions)
        dead = try container.decode([DeadCall].self, forKey: .dead)
        queues = try container.decodeIfPresent([Queue].self, forKey: .queues) ?? []
        callbacks = try container.decodeIfPresent(Int.self, forKey: .callbacks) ?? 0
    }

    /// One queue: its name and the calls stored in it and not yet done.
    public struct Queue: Codable, Sendable, Equatable {
        public var name: String
        public var queued: Int

        public init(name: String, queued: Int) {
            self.name = name
            self.queued = queued
        }
    }

    /// One function's calls: `queued` are stored and not yet done (those in flight included), `inFlight` are
    /// being made now; `retries`, `deadLetters` and `redelivered` (calls made again because their attempt went
    /// unanswered when the daemon stopped: possible duplicates) count since the daemon started.
    public struct Function: Codable, Sendable, Equatable {
        public var name: String
        public var namespace: String
        public var queued: Int
        public var inFlight: Int
        public var retries: Int
        public var deadLetters: Int
        public var redelivered: Int

        public init(
            name: String, namespace: String, queued: Int, inFlight: Int, retries: Int, deadLetters: Int,
            redelivered: Int = 0
        ) {
            self.name = name
            self.namespace = namespace
            self.queued = queued
            self.inFlight = inFlight
            self.retries = retries
            self.deadLetters = deadLetters
            self.redelivered = redelivered
        }
    }

    /// A call that used its attempts (or could not be read), kept until it is retried.
    public struct DeadCall: Codable, Sendable, Equatable {
        public var callId: String
        public var function: String
        public var reason: String
        public var attempts: Int
        /// When it was queued, RFC 3339.
        public var queuedAt: String

        public init(callId: String, function: String, reason: String, attempts: Int, queuedAt: String) {
            self.callId = callId
            self.function = function
            self.reason = reason
            self.attempts = attempts
            self.queuedAt = queuedAt
        }
    }
}

/// `POST /system/queue/retry`: one dead call by its id, or every dead call.
public struct QueueRetryRequest: Codable, Sendable, Equatable {
    public var callId: String?
    public var allDead: Bool?

    public init(callId: String? = nil, allDead: Bool? = nil) {
        self.callId = callId
        self.allDead = allDead
    }
}

/// `POST /system/queue/purge`: a function's queued calls that have not started.
public struct QueuePurgeRequest: Codable, Sendable, Equatable {
    public var functionName: String
    public var namespace: String?

    public init(functionName: String, namespace: String? = nil) {
        self.functionName = functionName
        self.namespace = namespace
    }
}

/// How many calls a retry queued again, or a purge removed.
public struct QueueChange: Codable, Sendable, Equatable {
    public var calls: Int

    public init(calls: Int) { self.calls = calls }
}
