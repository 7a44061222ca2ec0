import SkiffNATS
import SkiffTestSupport
import Testing

/// One connection's bytes in and bytes out, after the INFO line: each scenario runs against Skiff's broker and,
/// when it is installed (always under CI), against Debian's nats-server 2.9, and both must answer exactly as
/// written here. A scenario that passes on nats-server and fails on Skiff is a Skiff bug.
@Suite("NATS protocol, byte for byte against nats-server")
struct ProtocolConformanceTests {
    enum Ending: Sendable {
        /// The connection stays open: a PING is sent and the answer read up to its PONG (the barrier).
        case open
        /// The broker closes the connection.
        case closed
    }

    struct Scenario: Sendable, CustomTestStringConvertible {
        let name: String
        let send: String
        let expect: String
        let ending: Ending
        var testDescription: String { name }
    }

    static let quiet = #"CONNECT {"verbose":false,"pedantic":false}\#r\#n"#

    static let scenarios: [Scenario] = [
        Scenario(
            name: "before CONNECT a client is verbose", send: "SUB foo 1\r\nPUB foo 5\r\nhello\r\n",
            expect: "+OK\r\n+OK\r\nMSG foo 1 5\r\nhello\r\nPONG\r\n", ending: .open),
        Scenario(
            name: "wildcards match whole tokens; MSG carries the published subject",
            send: quiet + "SUB foo.* 1\r\nSUB foo.> 2\r\nSUB > 3\r\nPUB foo.bar 2\r\nhi\r\nPUB foo 1\r\nx\r\n"
                + "PUB foo.bar.baz 0\r\n\r\n",
            expect: "MSG foo.bar 3 2\r\nhi\r\nMSG foo.bar 2 2\r\nhi\r\nMSG foo.bar 1 2\r\nhi\r\nMSG foo 3 1\r\nx\r\n"
                + "MSG foo.bar.baz 3 0\r\n\r\nMSG foo.bar.baz 2 0\r\n\r\nPONG\r\n",
            ending: .open),
        Scenario(
            name: "UNSUB with a maximum counts deliveries",
            send: quiet + "SUB foo 1\r\nUNSUB 1 2\r\nPUB foo 1\r\na\r\nPUB foo 1\r\nb\r\nPUB foo 1\r\nc\r\n",
            expect: "MSG foo 1 1\r\na\r\nMSG foo 1 1\r\nb\r\nPONG\r\n", ending: .open),
        Scenario(
            name: "a sid in use ignores the new SUB",
            send: quiet + "SUB foo 1\r\nSUB bar 1\r\nPUB bar 1\r\nx\r\nPUB foo 1\r\ny\r\n",
            expect: "MSG foo 1 1\r\ny\r\nPONG\r\n", ending: .open),
        Scenario(
            name: "an invalid subject is refused and the connection stays",
            send: quiet + "SUB foo..bar 1\r\nSUB foo.>.x 2\r\n",
            expect: "-ERR 'Invalid Subject'\r\n-ERR 'Invalid Subject'\r\nPONG\r\n", ending: .open),
        Scenario(
            name: "pedantic mode complains and still delivers", send: "SUB foo.* 1\r\nPUB foo.* 1\r\nx\r\n",
            expect: "+OK\r\n-ERR 'Invalid Publish Subject'\r\n+OK\r\nMSG foo.* 1 1\r\nx\r\nPONG\r\n", ending: .open),
        Scenario(
            name: "echo off keeps a client's own messages from it",
            send: #"CONNECT {"verbose":false,"echo":false,"protocol":1}\#r\#n"# + "SUB foo 1\r\nPUB foo 1\r\nx\r\n",
            expect: "PONG\r\n", ending: .open),
        Scenario(
            name: "headers travel with HPUB and HMSG",
            send: #"CONNECT {"verbose":false,"headers":true}\#r\#n"#
                + "SUB foo 1\r\nHPUB foo 22 33\r\nNATS/1.0\r\nBar: Baz\r\n\r\nHello NATS!\r\nHPUB foo 0 2\r\nhi\r\n",
            expect: "HMSG foo 1 22 33\r\nNATS/1.0\r\nBar: Baz\r\n\r\nHello NATS!\r\nMSG foo 1 2\r\nhi\r\nPONG\r\n",
            ending: .open),
        Scenario(
            name: "a request nobody answers gets a 503 on the requester's inbox",
            send: #"CONNECT {"verbose":false,"headers":true,"no_responders":true}\#r\#n"#
                + "SUB _INBOX.x.* 1\r\nPUB nobody _INBOX.x.1 0\r\n\r\n",
            expect: "HMSG _INBOX.x.1 1 16 16\r\nNATS/1.0 503\r\n\r\n\r\nPONG\r\n", ending: .open),
        Scenario(
            name: "op names in any case, junk after PING ignored",
            send: quiet + "sub foo 1\r\npUb foo 1\r\nx\r\nPING junk\r\n",
            expect: "MSG foo 1 1\r\nx\r\nPONG\r\nPONG\r\n", ending: .open),
        Scenario(
            name: "publishing to a server route subject is a permissions violation",
            send: quiet + "PUB _GR_.x 0\r\n\r\nPUB foo _R_.y 0\r\n\r\n",
            expect: "-ERR 'Permissions Violation for Publish to \"_GR_.x\"'\r\n"
                + "-ERR 'Permissions Violation for Publish with Reply of \"_R_.y\"'\r\nPONG\r\n",
            ending: .open),
        Scenario(
            name: "HPUB on a connection without headers is closed silently",
            send: quiet + "HPUB foo 12 12\r\nNATS/1.0\r\n\r\n\r\n", expect: "", ending: .closed),
        Scenario(
            name: "a payload over the limit", send: "PUB foo 1048577\r\n",
            expect: "-ERR 'Maximum Payload Violation'\r\n", ending: .closed),
        Scenario(
            name: "a control line over the limit", send: "PUB " + String(repeating: "x", count: 5000),
            expect: "-ERR 'maximum control line exceeded'\r\n", ending: .closed),
        Scenario(
            name: "an unknown protocol version", send: #"CONNECT {"protocol":2}\#r\#n"#,
            expect: "-ERR 'invalid client protocol'\r\n", ending: .closed),
        Scenario(
            name: "no responders without headers", send: #"CONNECT {"no_responders":true}\#r\#n"#,
            expect: "-ERR 'no responders requires headers support'\r\n", ending: .closed),
        Scenario(name: "a client's -ERR closes silently", send: "-ERR 'bye'\r\n", expect: "", ending: .closed),
        Scenario(name: "xxx", send: "xxx", expect: "-ERR 'Unknown Protocol Operation'\r\n", ending: .closed),
        Scenario(
            name: "a space before PING", send: " PING\r\n", expect: "-ERR 'Unknown Protocol Operation'\r\n",
            ending: .closed),
        Scenario(name: "CONNECT without JSON", send: "CONNECT \r\n", expect: "", ending: .closed),
        Scenario(name: "PUB without a size", send: "PUB foo\r\n", expect: "", ending: .closed),
        Scenario(
            name: "PUB with a size that is no number", send: "PUB foo bar       \r\n", expect: "", ending: .closed),
        Scenario(
            name: "a payload followed by a space", send: "PUB foo 2\r\nok \r\n",
            expect: "-ERR 'Unknown Protocol Operation'\r\n", ending: .closed),
        Scenario(name: "SUB without a sid", send: "SUB foo\r\n", expect: "", ending: .closed),
        Scenario(name: "SUB with too many arguments", send: "SUB foo bar baz 22\r\n", expect: "", ending: .closed),
        Scenario(
            name: "UNSUB alone", send: "UNSUB\r\n", expect: "-ERR 'Unknown Protocol Operation'\r\n", ending: .closed),
        // The spec's table says -ERR; nats-server 2.9.10 closes without a word.
        Scenario(name: "UNSUB without a sid", send: "UNSUB \r\n", expect: "", ending: .closed),
        Scenario(
            name: "UNSUB with a maximum that is no number removes at once",
            send: quiet + "SUB foo 1\r\nUNSUB 1 x\r\nPUB foo 1\r\na\r\nSUB bar 2\r\nUNSUB 2 -1\r\nPUB bar 1\r\nb\r\n",
            expect: "PONG\r\n", ending: .open),
        Scenario(
            name: "a client's INFO, +OK and PONG are taken quietly; CONNECT keys in any case",
            send: #"CONNECT {"Verbose" : false}\#r\#n"# + "INFO {}\r\n+OKx\r\nPONGa\r\nPINGX\r\n",
            expect: "PONG\r\nPONG\r\n", ending: .open),
        Scenario(name: "INFO without JSON", send: "INFO  \r\n", expect: "", ending: .closed),
        Scenario(
            name: "MSG from a client", send: "MSG  \r\n", expect: "-ERR 'Unknown Protocol Operation'\r\n",
            ending: .closed),
    ]

    private func run(_ scenario: Scenario, on broker: any TestBroker) async throws -> String {
        let client = try RawClient(broker)
        defer { client.close() }
        switch scenario.ending {
        case .open:
            client.send(scenario.send + "PING\r\n")
            // The scenario's own PONGs come before the last one: read until as many as it expects.
            let pongs = scenario.expect.components(separatedBy: "PONG\r\n").count - 1
            var text = ""
            while text.components(separatedBy: "PONG\r\n").count - 1 < pongs {
                let more = try await client.read(until: "PONG\r\n")
                if more.isEmpty { break }
                text += more
            }
            return withoutInfo(text)
        case .closed:
            client.send(scenario.send)
            let (text, closed) = try await client.readToClose()
            return withoutInfo(text) + (closed ? "" : "<still open>")
        }
    }

    @Test(arguments: scenarios)
    func skiffAnswersAsNatsServer(_ scenario: Scenario) async throws {
        let skiff = try await SkiffBroker()
        defer { Task { await skiff.stop() } }
        #expect(try await run(scenario, on: skiff) == scenario.expect)
    }

    @Test(.enabled(if: ReferenceBroker.enabled), arguments: scenarios)
    func natsServerAnswersAsWritten(_ scenario: Scenario) async throws {
        let reference = try await ReferenceBroker.start()
        defer { Task { await reference.stop() } }
        #expect(try await run(scenario, on: reference) == scenario.expect)
    }
}
