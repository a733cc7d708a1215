//! Gives the shared library a soname with the ABI's major version
//! (`libdlbrma.so.0`), so that an installed prefix can hold
//! `libdlbrma.so.0.1.0` with the usual `libdlbrma.so.0` and `libdlbrma.so`
//! links (`ci/install`) and programs record the major version they need.

fn main() {
    let major = std::env::var("CARGO_PKG_VERSION_MAJOR").unwrap_or_else(|_| "0".to_owned());
    if std::env::var("CARGO_CFG_TARGET_OS").is_ok_and(|os| os == "linux") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libdlbrma.so.{major}");
    }
}
