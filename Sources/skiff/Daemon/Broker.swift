import SkiffAPI
import SkiffNATS
import SkiffPOSIX

/// The NATS broker `skiff serve` runs, as its options say: on loopback without authentication unless asked for;
/// beyond loopback never without it (a token generated once into `STATE/secrets/nats-token` when no user or
/// token is configured).
struct Broker {
    let configuration: NATSConfiguration
    /// How clients authenticate: `none`, `token` or `user`.
    let auth: String

    /// Nil when the broker is turned off.
    init?(options: ServeOptions) throws {
        guard !options.isNATSOff, let address = SocketAddress(parsing: options.natsListen) else { return nil }
        var configuration = NATSConfiguration(addresses: [address])
        configuration.jetStreamDirectory = "\(options.stateDirectory)/streams"
        var auth = "none"
        if !options.natsUser.isEmpty {
            configuration.authorization = .user(options.natsUser, password: options.natsPassword)
            auth = "user"
        } else if !options.natsToken.isEmpty {
            configuration.authorization = .token(options.natsToken)
            auth = "token"
        } else if !address.isLoopback {
            let token = try GeneratedSecret.loadOrCreate(at: "\(options.stateDirectory)/secrets/nats-token")
            configuration.authorization = .token(token)
            auth = "token"
        }
        self.configuration = configuration
        self.auth = auth
    }

    /// What /system/info and `skiff version` say of it, once it listens (the real port when 0 was asked for).
    func description(listeningOn address: SocketAddress) -> GatewayInfo.Broker {
        GatewayInfo.Broker(url: "nats://\(address)", auth: auth)
    }
}
