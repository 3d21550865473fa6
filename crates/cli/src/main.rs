//! `berth`: dispatches on its name, so a `berth-runtime` link to it is the OCI
//! runtime; otherwise `berth runtime ...` reaches the same verbs.

use std::ffi::OsString;
use std::path::Path;

fn main() {
    let args: Vec<OsString> = std::env::args_os().collect();
    let name = args
        .first()
        .and_then(|a| Path::new(a).file_name())
        .map(|n| n.to_string_lossy().into_owned());
    if name.as_deref() == Some("berth-runtime") {
        std::process::exit(berth_cli::runtime_cli::main(args));
    }
    if args.get(1).is_some_and(|a| a == "runtime") {
        let mut rest = vec![OsString::from("berth runtime")];
        rest.extend(args.into_iter().skip(2));
        std::process::exit(berth_cli::runtime_cli::main(rest));
    }
    eprintln!(
        "berth: the engine is not built yet; `berth runtime --help` lists the OCI runtime's commands"
    );
    std::process::exit(2);
}
