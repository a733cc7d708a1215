//! Gives the shared library a soname with the ABI's compatibility version,
//! as Cargo's semver rules define it: the major version from 1.0 on
//! (`libdlbrma.so.1`), the major and the minor version while the major is 0
//! (`libdlbrma.so.0.1`: 0.1 and 0.2 are incompatible). An installed prefix
//! then holds `libdlbrma.so.0.1.0` with the usual `libdlbrma.so.0.1` and
//! `libdlbrma.so` links (`ci/install`, which reads the soname back from the
//! library), and programs record the ABI they were linked against.

use std::env;

fn main() {
    let major = env::var("CARGO_PKG_VERSION_MAJOR").expect("cargo sets CARGO_PKG_VERSION_MAJOR");
    let minor = env::var("CARGO_PKG_VERSION_MINOR").expect("cargo sets CARGO_PKG_VERSION_MINOR");
    let abi = if major == "0" {
        format!("0.{minor}")
    } else {
        major
    };
    if env::var("CARGO_CFG_TARGET_OS").is_ok_and(|os| os == "linux") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libdlbrma.so.{abi}");
    }
}
