import SkiffAPI
import SkiffPOSIX

/// The seam between the daemon and whatever runs functions. The gateway, the queue worker and the autoscaler
/// talk to this protocol only; `ContainerdRuntime` is the real implementation. Every method throws
/// ``FunctionRuntimeError``.
public protocol FunctionRuntime: Sendable {
    /// Notified after every change of what functions exist and how they are defined (a deploy, an update, a
    /// removal, the restore at start): triggers and schedules follow them at once instead of polling.
    var definitionChanges: ChangeSignal { get }

    /// Validates the definition (its values, its namespace, its secrets; `conflict` when the function exists),
    /// creates the function and answers once `replicas` replicas are ready (0: one replica is prepared but not
    /// started, so the first request starts it quickly). On failure nothing of it is left.
    func deploy(_ definition: FunctionDefinition, replicas: Int) async throws

    /// Replaces a function's definition without downtime: new replicas start and become ready before the old
    /// ones are drained. On failure the old replicas keep serving and the old definition stays. An unknown
    /// function is `notFound` before anything is validated (faas-cli deploys with PUT and falls back to POST on
    /// 404, and the POST then says what is wrong with the definition).
    func update(_ definition: FunctionDefinition) async throws

    /// Sets the replica count and answers once it is reached (new replicas ready, removed ones gone).
    func scale(name: String, namespace: String, replicas: Int) async throws

    /// Stops and deletes every replica and forgets the function.
    func remove(name: String, namespace: String) async throws

    func status(name: String, namespace: String) async throws -> FunctionStatus

    func list(namespace: String) async throws -> [FunctionStatus]
    /// Every function in every namespace, from memory: what unauthenticated readers (/metrics) may trigger, so
    /// it never asks containerd.
    func listAll() async -> [FunctionStatus]

    /// Namespaces functions may live in: the default one and those labelled `openfaas=1` in containerd.
    func namespaces() async throws -> [String]

    /// A function namespace's containerd labels; nil when the namespace does not exist or lacks `openfaas=1`.
    func namespaceLabels(_ name: String) async throws -> [String: String]?

    /// Creates a function namespace (its labels must include `openfaas=1`).
    func createNamespace(_ name: String, labels: [String: String]) async throws

    /// Replaces a function namespace's labels.
    func updateNamespace(_ name: String, labels: [String: String]) async throws

    /// Deletes a namespace that holds no functions, with the images in it.
    func deleteNamespace(_ name: String) async throws

    /// The images in a function namespace, with their sizes and the functions that use them.
    func images(namespace: String) async throws -> [ImageSummary]

    /// Removes the namespace's images that no function uses, as far as `filter` allows.
    func pruneImages(namespace: String, filter: ImagePruneFilter) async throws -> ImagePruneSummary

    /// The names of a namespace's secrets; their values never leave the runtime except into replicas.
    func secretNames(namespace: String) async throws -> [String]

    /// Creates a secret (`conflict` when it exists) or, `replacing`, changes its value (`notFound` when it does
    /// not exist); every replica that mounts a changed secret sees the new value at once and whole.
    func writeSecret(namespace: String, name: String, value: [UInt8], replacing: Bool) async throws

    /// Deletes a secret: `notFound` when it does not exist, `conflict` while a function uses it (that function
    /// could not start another replica).
    func deleteSecret(namespace: String, name: String) async throws

    /// Ready replicas right now; cheap enough for every invocation (no suspension, no process).
    func endpoints(name: String, namespace: String) -> [ReplicaEndpoint]

    /// The ready replica with the fewest requests in flight, counted until ``releaseEndpoint(_:)``. With none
    /// ready, the function is scaled from zero (or its starting replicas awaited) and the call waits for one to
    /// be published, up to `timeout`; `waited` says whether it had to. Replicas being stopped are unpublished
    /// first and signalled only once their counted requests have ended. Throws `notFound` for an unknown
    /// function and `timedOut` when no replica became ready in time.
    func acquireEndpoint(name: String, namespace: String, waitingUpTo timeout: Duration) async throws
        -> (endpoint: ReplicaEndpoint, waited: Bool)

    /// Ends a request counted by ``acquireEndpoint(name:namespace:waitingUpTo:)``.
    func releaseEndpoint(_ endpoint: ReplicaEndpoint)

    /// What the function's running replicas use now: CPU seconds so far and memory in bytes.
    func usage(_ status: FunctionStatus) -> FunctionSummary.Usage

    /// The function's logs, oldest first; with `follow`, stays open for new lines until cancelled.
    func logs(_ query: LogQuery) async throws -> AsyncThrowingStream<FunctionLogEntry, any Error>
}
