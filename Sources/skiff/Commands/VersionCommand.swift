enum VersionCommand {
    static func run(_ arguments: [String]) -> Int32 {
        print("skiff version: \(SkiffVersion.release)")
        return 0
    }
}
