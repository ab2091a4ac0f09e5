//! The `centrale` command. See `centrale --help`.

fn main() -> std::process::ExitCode {
    centrale_host::cli::main()
}
