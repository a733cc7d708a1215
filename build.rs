//! Build script of dlb. With the `capi` feature (the C and Fortran
//! library, `capi/`: libdlbrma): writes the pkg-config file `dlbrma.pc`
//! beside the libraries (target/<profile>/), and checks that
//! `include/dlbrma.h` matches the Rust definitions of the C API, by
//! generating Rust declarations from it that `src/capi/header_check.rs`
//! compares. Without it (a Rust program that depends on dlb), neither.
//!
//! The MPI is the one dlb-sys found (its `links` metadata, see
//! `sys/build.rs`): one probe for the whole build.
//!
//! Always: the git revision being built, for provenance
//! (`DLB_GIT_REVISION`: from `.cargo_vcs_info.json` in a packaged crate,
//! else from dlb's git checkout with `-dirty` when tracked files were
//! changed; absent otherwise, and shown as "unknown").

use std::env;
#[cfg(feature = "capi")]
use std::{fs, path::PathBuf};

fn main() {
    for name in ["INCLUDE", "LIB_PATHS", "LIBS", "SMPI"] {
        println!("cargo:rerun-if-env-changed=DEP_DLB_MPI_{name}");
    }
    // Built against SimGrid's SMPI (see sys/build.rs and `ci/smpi`).
    if env::var("DEP_DLB_MPI_SMPI").is_ok_and(|v| v == "1") {
        println!("cargo:rustc-cfg=dlb_smpi");
    }
    git_revision();
    #[cfg(feature = "capi")]
    c_library();
}

/// Sets `DLB_GIT_REVISION` for the crate: the commit it was packaged from
/// (`.cargo_vcs_info.json`, in a crate from crates.io or `cargo
/// package`), else, in a git checkout of dlb itself, `HEAD` (with
/// `-dirty` when tracked files differ from it). Reruns when HEAD, a ref,
/// the index or dlb's sources change (only paths that exist: a missing one
/// would rerun every build).
fn git_revision() {
    let manifest = env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let manifest = std::path::Path::new(&manifest);
    let vcs_info = manifest.join(".cargo_vcs_info.json");
    if let Ok(text) = std::fs::read_to_string(&vcs_info) {
        println!("cargo:rerun-if-changed={}", vcs_info.display());
        // {"git": {"sha1": "<40 hex digits>", "dirty": true?}, ...}
        if let Some(sha) = text
            .split("\"sha1\"")
            .nth(1)
            .and_then(|rest| rest.split('"').nth(1))
        {
            let dirty = if text.contains("\"dirty\": true") {
                "-dirty"
            } else {
                ""
            };
            let short = &sha[..sha.len().min(12)];
            println!("cargo:rustc-env=DLB_GIT_REVISION={short}{dirty}");
        }
        return;
    }
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .arg("--no-optional-locks")
            .arg("-C")
            .arg(manifest)
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    // Only dlb's own checkout: not a repository dlb was vendored into.
    if git(&["ls-files", "--error-unmatch", "build.rs"]).is_none() {
        return;
    }
    let (Some(dir), Some(common)) = (
        git(&["rev-parse", "--absolute-git-dir"]),
        git(&["rev-parse", "--path-format=absolute", "--git-common-dir"]),
    ) else {
        return;
    };
    let (dir, common) = (std::path::Path::new(&dir), std::path::Path::new(&common));
    let mut watched = vec![
        dir.join("HEAD"),
        dir.join("index"),
        dir.join("logs").join("HEAD"),
        common.join("packed-refs"),
    ];
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        watched.push(common.join(branch));
    }
    // The sources, for `-dirty` (cargo watches directories recursively).
    for own in ["src", "sys", "include", "Cargo.toml", "build.rs"] {
        watched.push(manifest.join(own));
    }
    for file in watched.iter().filter(|f| f.exists()) {
        println!("cargo:rerun-if-changed={}", file.display());
    }
    let Some(revision) = git(&["rev-parse", "--short=12", "HEAD"]) else {
        return;
    };
    let dirty = git(&["status", "--porcelain", "--untracked-files=no"])
        .is_some_and(|changes| !changes.is_empty());
    let suffix = if dirty { "-dirty" } else { "" };
    println!("cargo:rustc-env=DLB_GIT_REVISION={revision}{suffix}");
}

/// The C API's header check and pkg-config file.
#[cfg(feature = "capi")]
fn c_library() {
    let manifest =
        PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let header = manifest.join("include").join("dlbrma.h");
    println!("cargo:rerun-if-changed={}", header.display());
    let mpi = Mpi::from_dlb_sys();
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));

    // bindgen over the header: Rust declarations of the C API's functions.
    let mut bindgen = bindgen::builder()
        .header(header.to_string_lossy())
        .allowlist_function("dlb_.*");
    for dir in &mpi.include_paths {
        bindgen = bindgen.clang_arg(format!("-I{}", dir.display()));
    }
    bindgen
        .blocklist_type("MPI_.*|ompi_.*")
        .generate()
        .expect("dlb: bindgen failed on include/dlbrma.h")
        .write_to_file(out.join("dlb_h.rs"))
        .expect("dlb: cannot write the header bindings");

    // dlbrma.pc beside libdlbrma.a (built by capi/): OUT_DIR is
    // target/<profile>/build/dlb-*/out.
    let libdir = out
        .ancestors()
        .nth(3)
        .expect("OUT_DIR is inside the target directory")
        .to_path_buf();
    let mut cflags = format!("-I{}", manifest.join("include").display());
    for dir in &mpi.include_paths {
        cflags.push_str(&format!(" -I{}", dir.display()));
    }
    let mut libs = format!("{}", libdir.join("libdlbrma.a").display());
    for dir in &mpi.lib_paths {
        libs.push_str(&format!(" -L{}", dir.display()));
    }
    for lib in &mpi.libs {
        libs.push_str(&format!(" -l{lib}"));
    }
    // What a Rust static library needs from the system on Linux
    // (`rustc --print native-static-libs`).
    libs.push_str(" -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc");
    let pc = format!(
        "# Written by dlb's build.rs for the MPI it was built against.\n\
         Name: dlbrma\n\
         Description: dynamic load balancing for MPI with one-sided atomics\n\
         Version: {}\n\
         Cflags: {cflags}\n\
         Libs: {libs}\n",
        env::var("CARGO_PKG_VERSION").unwrap_or_default()
    );
    fs::write(libdir.join("dlbrma.pc"), pc).expect("dlb: cannot write dlbrma.pc");
}

/// The MPI dlb-sys built against.
#[cfg(feature = "capi")]
struct Mpi {
    include_paths: Vec<PathBuf>,
    lib_paths: Vec<PathBuf>,
    libs: Vec<String>,
}

#[cfg(feature = "capi")]
impl Mpi {
    fn from_dlb_sys() -> Mpi {
        let var = |name: &str| {
            env::var_os(format!("DEP_DLB_MPI_{name}"))
                .unwrap_or_else(|| panic!("dlb: dlb-sys did not pass DEP_DLB_MPI_{name} on"))
        };
        let paths = |name: &str| {
            env::split_paths(&var(name))
                .filter(|p| !p.as_os_str().is_empty())
                .collect()
        };
        Mpi {
            include_paths: paths("INCLUDE"),
            lib_paths: paths("LIB_PATHS"),
            libs: var("LIBS")
                .to_string_lossy()
                .split_whitespace()
                .map(str::to_owned)
                .collect(),
        }
    }
}
