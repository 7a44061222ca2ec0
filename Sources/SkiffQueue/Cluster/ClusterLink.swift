import Foundation
import SkiffNATSClient
import SkiffPOSIX

/// Where `--queue nats://[USER:PASSWORD@|TOKEN@]HOST:PORT[,HOST:PORT…]` says the queue lives: the servers of a
/// NATS cluster (or one server) with JetStream, and the credentials for all of them.
public struct ClusterAddress: Sendable, Equatable {
    public var servers: [SocketAddress]
    public var user: String?
    public var password: String?
    public var token: String?
    /// As given, credentials left out: for logs and `/system/info`.
    public var display: String

    public init(parsing text: String) throws(ClusterAddressError) {
        let given = text.trimmingCharacters(in: .whitespaces)
        guard given.hasPrefix("nats://") else {
            throw ClusterAddressError("--queue must be nats://[USER:PASSWORD@]HOST:PORT[,HOST:PORT…]: \(given)")
        }
        var rest = Substring(given.dropFirst("nats://".count))
        if let at = rest.lastIndex(of: "@") {
            let credentials = rest[..<at]
            rest = rest[rest.index(after: at)...]
            if let colon = credentials.firstIndex(of: ":") {
                user = Self.unescaped(credentials[..<colon])
                password = Self.unescaped(credentials[credentials.index(after: colon)...])
            } else {
                token = Self.unescaped(credentials)
            }
        }
        var servers: [SocketAddress] = []
        for entry in rest.split(separator: ",", omittingEmptySubsequences: false) {
            let hostPort = entry.hasPrefix("nats://") ? entry.dropFirst("nats://".count) : entry
            guard let colon = hostPort.lastIndex(of: ":"), let port = Int(hostPort[hostPort.index(after: colon)...]),
                (1...65535).contains(port)
            else {
                throw ClusterAddressError(
                    "--queue: each server must be HOST:PORT, not \(String(entry).debugDescription)")
            }
            let host = String(hostPort[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
            guard let address = SocketAddress(host: host, port: port) ?? SocketAddress.lookUp(host: host, port: port)
            else { throw ClusterAddressError("--queue: cannot resolve \(host)") }
            servers.append(address)
        }
        guard !servers.isEmpty else { throw ClusterAddressError("--queue names no server") }
        self.servers = servers
        display = "nats://" + rest
    }

    /// `%40` and the like in credentials, as URLs write them.
    private static func unescaped(_ text: Substring) -> String { text.removingPercentEncoding ?? String(text) }

    var clientOptions: NATSClientOptions {
        var options = NATSClientOptions()
        options.user = user
        options.password = password
        options.token = token
        options.name = "skiff-queue"
        options.connectTimeout = .seconds(5)
        return options
    }
}

public struct ClusterAddressError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// One connection at a time to a server of the cluster: the first that answers, trying the one after the last
/// that failed first, so that a server that dies (the stream's leader, say) is left for the next.
actor ClusterLink {
    let address: ClusterAddress
    let loop: EventLoop
    private var current: NATSClient?
    private var next = 0
    /// Raised whenever a new connection is made: subscriptions are made again on it.
    nonisolated let reconnected = ChangeSignal()

    init(address: ClusterAddress, loop: EventLoop) {
        self.address = address
        self.loop = loop
    }

    /// The connection, made when there is none; throws when no server answers.
    func client() async throws -> NATSClient {
        if let current { return current }
        var failures: [String] = []
        for offset in 0..<address.servers.count {
            let index = (next + offset) % address.servers.count
            let server = address.servers[index]
            do {
                let client = try await NATSClient.connect(to: server, options: address.clientOptions, loop: loop)
                current = client
                next = index
                reconnected.notify()
                Task { [weak self] in
                    _ = await client.closed()
                    await self?.lost(client)
                }
                return client
            } catch {
                failures.append("\(server): \(error)")
            }
        }
        next = (next + 1) % address.servers.count
        throw ClusterQueueError("no NATS server of \(address.display) answers (\(failures.joined(separator: "; ")))")
    }

    /// `client` failed (closed, or a request went unanswered): the next call connects again, to the next server.
    func lost(_ client: NATSClient) async {
        guard current === client else { return }
        current = nil
        next = (next + 1) % address.servers.count
        await client.close()
    }

    /// A request, answered within `timeout` or nil; a connection that fails under it is dropped.
    nonisolated func request(
        _ subject: String, headers: [NATSHeader] = [], payload: [UInt8], timeout: Duration
    ) async throws -> NATSMessage? {
        let client = try await client()
        do {
            return try await client.request(subject, headers: headers, payload: payload, timeout: timeout)
        } catch {
            await lost(client)
            throw error
        }
    }

    /// Publishes without waiting for anything (acks and progress of deliveries); a failure is dropped, and what it
    /// would have said is said again by the server's redelivery.
    nonisolated func publish(_ subject: String, payload: [UInt8]) {
        Task {
            guard let client = try? await client() else { return }
            do {
                try await client.publish(subject, payload: payload)
            } catch {
                await lost(client)
            }
        }
    }

    func close() async {
        await current?.close()
        current = nil
    }
}

public struct ClusterQueueError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
