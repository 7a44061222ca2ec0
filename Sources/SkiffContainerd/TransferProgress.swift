/// How far a long image operation (a pull, an import, an export) has come, for a progress display.
public struct TransferProgress: Sendable, Equatable {
    /// "pulling IMAGE", "importing", "exporting IMAGE": what a person sees before the bar.
    public var activity: String
    public var done: Int
    /// 0 when not known yet (a pull before the registry has sent the manifest).
    public var total: Int

    public init(activity: String, done: Int, total: Int) {
        self.activity = activity
        self.done = done
        self.total = total
    }
}

public typealias TransferObserver = @Sendable (TransferProgress) -> Void
