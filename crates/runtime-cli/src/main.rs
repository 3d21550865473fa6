#![forbid(unsafe_code)]
//! `berth-runtime`: the OCI runtime command-line tool (runc's verbs and flags).

fn main() {
    std::process::exit(berth_runtime_cli::main(std::env::args_os().collect()));
}
