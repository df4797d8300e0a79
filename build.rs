//! Fetches the official Socket.IO client bundle for the gateway to serve at
//! `/socket.io/socket.io.js`: `npm ci` of `assets/client` (which pins `socket.io-client`)
//! into the build directory, so that no third-party code is committed.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The files of `socket.io-client/dist` that the Node server serves, and so do we.
const BUNDLE: &[&str] = &[
    "socket.io.js",
    "socket.io.js.map",
    "socket.io.min.js",
    "socket.io.min.js.map",
    "socket.io.esm.min.js",
    "socket.io.esm.min.js.map",
    "socket.io.msgpack.min.js",
    "socket.io.msgpack.min.js.map",
];

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let package = manifest.join("assets/client");
    for file in ["package.json", "package-lock.json"] {
        println!("cargo::rerun-if-changed=assets/client/{file}");
    }
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("set by cargo")).join("client");
    let dist = out.join("node_modules/socket.io-client/dist");
    if !BUNDLE.iter().all(|file| dist.join(file).is_file()) || stale(&package, &out) {
        install(&package, &out);
    }
    for file in BUNDLE {
        assert!(
            dist.join(file).is_file(),
            "socket.io-client's bundle has no {file}: is assets/client/package.json right?"
        );
    }
    println!("cargo::rustc-env=SOCKETIO_CLIENT_DIST={}", dist.display());
}

/// Whether the installed lockfile differs from the committed one.
fn stale(package: &Path, out: &Path) -> bool {
    let read = |dir: &Path| std::fs::read(dir.join("package-lock.json")).ok();
    read(package) != read(out)
}

fn install(package: &Path, out: &Path) {
    std::fs::create_dir_all(out).expect("the build directory is writable");
    for file in ["package.json", "package-lock.json"] {
        std::fs::copy(package.join(file), out.join(file)).expect("assets/client is readable");
    }
    let npm = if cfg!(windows) { "npm.cmd" } else { "npm" };
    let status = Command::new(npm)
        .args([
            "ci",
            "--omit=dev",
            "--ignore-scripts",
            "--no-audit",
            "--no-fund",
        ])
        .current_dir(out)
        .status();
    match status {
        Ok(status) if status.success() => {}
        Ok(status) => panic!(
            "`npm ci` for the Socket.IO client bundle failed ({status}); it needs the npm \
             registry (or a configured mirror)"
        ),
        Err(error) => panic!(
            "npm is needed to fetch the official Socket.IO client bundle that the server \
             serves, and it could not be run ({error}): install Node.js 18 or later \
             (which includes npm)"
        ),
    }
}
