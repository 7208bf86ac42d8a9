import PipeCLI

@main
enum Entrypoint {
    static func main() { PipeCommand.runAndExit() }
}
