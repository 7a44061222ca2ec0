enum Usage {
    static let text = """
        usage: skiff <command> [options]

        commands:
          serve      run the daemon: the OpenFaaS-compatible gateway and the function runtime
          version    print the client version
          help       show this text

        run 'skiff serve --help' for the daemon's options.
        """
}

/// Skiff's version, stamped by scripts at release time.
enum SkiffVersion {
    static let release = "0.1.0-dev"
}
