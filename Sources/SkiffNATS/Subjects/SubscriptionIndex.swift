import Synchronization

/// Every subscription of every client, in a token trie: per node the literal children, a `*` child and a `>`
/// child, each node holding its plain subscriptions and its queue groups by name. Matches are cached per
/// published subject until the next change. Any thread.
final class SubscriptionIndex: Sendable {
    /// What one published subject reaches: every plain subscription, and each queue group's members (one of
    /// them gets the message).
    struct Match: Sendable {
        var plain: [Subscription] = []
        var groups: [[Subscription]] = []

        var isEmpty: Bool { plain.isEmpty && groups.isEmpty }
    }

    private final class Node {
        var children: [ArraySlice<UInt8>: Node] = [:]
        var star: Node?
        var full: Node?
        var plain: [ObjectIdentifier: Subscription] = [:]
        var groups: [ArraySlice<UInt8>: [ObjectIdentifier: Subscription]] = [:]

        var isEmpty: Bool { children.isEmpty && star == nil && full == nil && plain.isEmpty && groups.isEmpty }
    }

    private struct State {
        let root = Node()
        var cache: [[UInt8]: Match] = [:]
        var count = 0
    }

    /// Distinct subjects cached at most; the cache starts over when full (inbox replies are each used once).
    private static let cacheLimit = 4096
    private let state = Mutex(State())
    /// Bumped by every change: a client's own cache of a match is good while this has not moved.
    private let changes = Atomic<UInt64>(0)

    var count: Int { state.withLock { $0.count } }
    var generation: UInt64 { changes.load(ordering: .acquiring) }

    func insert(_ subscription: Subscription) {
        state.withLock { state in
            var node = state.root
            for token in Subject.tokenize(subscription.subject) {
                node = Self.child(of: node, token, creating: true).unsafelyUnwrapped
            }
            let id = ObjectIdentifier(subscription)
            if let queue = subscription.queue {
                node.groups[queue[...], default: [:]][id] = subscription
            } else {
                node.plain[id] = subscription
            }
            state.count += 1
            state.cache.removeAll(keepingCapacity: true)
            changes.add(1, ordering: .releasing)
        }
    }

    /// Removes it if present; true when it was.
    @discardableResult
    func remove(_ subscription: Subscription) -> Bool {
        state.withLock { state in
            let tokens = Subject.tokenize(subscription.subject)
            guard Self.remove(subscription, tokens[...], from: state.root) else { return false }
            state.count -= 1
            state.cache.removeAll(keepingCapacity: true)
            changes.add(1, ordering: .releasing)
            return true
        }
    }

    func match(_ subject: UnsafeBufferPointer<UInt8>) -> Match {
        let key = Array(subject)
        return state.withLock { state in
            if let cached = state.cache[key] { return cached }
            let tokens = key.split(separator: Subject.dot, omittingEmptySubsequences: false)
            var plain: [Subscription] = []
            var groups: [ArraySlice<UInt8>: [Subscription]] = [:]
            Self.collect(state.root, tokens[...], plain: &plain, groups: &groups)
            let match = Match(plain: plain, groups: Array(groups.values))
            if state.cache.count >= Self.cacheLimit { state.cache.removeAll(keepingCapacity: true) }
            state.cache[key] = match
            return match
        }
    }

    private static func child(of node: Node, _ token: ArraySlice<UInt8>, creating: Bool) -> Node? {
        if Subject.isSingleWildcard(token) {
            if node.star == nil && creating { node.star = Node() }
            return node.star
        }
        if Subject.isFullWildcard(token) {
            if node.full == nil && creating { node.full = Node() }
            return node.full
        }
        if let existing = node.children[token] { return existing }
        guard creating else { return nil }
        let created = Node()
        node.children[Array(token)[...]] = created
        return created
    }

    /// Removes the subscription below `node` and prunes nodes left empty; true when it was found.
    private static func remove(_ subscription: Subscription, _ tokens: ArraySlice<ArraySlice<UInt8>>, from node: Node)
        -> Bool
    {
        guard let token = tokens.first else {
            let id = ObjectIdentifier(subscription)
            if let queue = subscription.queue {
                guard node.groups[queue[...]]?.removeValue(forKey: id) != nil else { return false }
                if node.groups[queue[...]]?.isEmpty == true { node.groups[queue[...]] = nil }
                return true
            }
            return node.plain.removeValue(forKey: id) != nil
        }
        guard let next = child(of: node, token, creating: false),
            remove(subscription, tokens.dropFirst(), from: next)
        else { return false }
        if next.isEmpty {
            if Subject.isSingleWildcard(token) {
                node.star = nil
            } else if Subject.isFullWildcard(token) {
                node.full = nil
            } else {
                node.children[token] = nil
            }
        }
        return true
    }

    private static func collect(
        _ node: Node, _ tokens: ArraySlice<ArraySlice<UInt8>>, plain: inout [Subscription],
        groups: inout [ArraySlice<UInt8>: [Subscription]]
    ) {
        guard let token = tokens.first else {
            add(node, plain: &plain, groups: &groups)
            return
        }
        // `>` takes one or more tokens: whatever is left.
        if let full = node.full { add(full, plain: &plain, groups: &groups) }
        if let child = node.children[token] { collect(child, tokens.dropFirst(), plain: &plain, groups: &groups) }
        if let star = node.star { collect(star, tokens.dropFirst(), plain: &plain, groups: &groups) }
    }

    private static func add(
        _ node: Node, plain: inout [Subscription], groups: inout [ArraySlice<UInt8>: [Subscription]]
    ) {
        plain.append(contentsOf: node.plain.values)
        for (name, members) in node.groups { groups[name, default: []].append(contentsOf: members.values) }
    }
}
