//! Build script of dlb-sys: finds MPI the way mpi-sys does (`MPICC`, then
//! `mpicc` on `PATH`, then pkg-config with `MPI_PKG_CONFIG`), compiles the C
//! shim with that MPI, and runs bindgen over `wrapper.h` (this crate's copy
//! of the top-level `wrapper.h`, so that the crate builds on its own; a test
//! of dlb keeps the two the same).
//!
//! The MPI found is passed on to crates that depend on this one (cargo's
//! `links` metadata): `DEP_DLB_MPI_INCLUDE`, `DEP_DLB_MPI_LIB_PATHS` and
//! `DEP_DLB_MPI_LIBS`, each a list joined by the platform's path separator
//! (libraries by spaces), so that dlb's build script does not probe again.
//!
//! mpi-sys does not rerun its own build script when the MPI selection
//! changes; this one does, and `dlb-sys` checks at compile time that both
//! crates saw the same MPI (see `src/lib.rs`). Use one `CARGO_TARGET_DIR`
//! per MPI to avoid rebuilding.

use std::{env, path::PathBuf};

fn main() {
    let manifest =
        PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let wrapper = manifest.join("wrapper.h");
    let shim = manifest.join("src").join("shim.c");
    println!("cargo:rerun-if-changed={}", wrapper.display());
    println!("cargo:rerun-if-changed={}", shim.display());
    for var in [
        "MPICC",
        "MPI_PKG_CONFIG",
        "CRAY_MPICH_DIR",
        "PKG_CONFIG_PATH",
        "PATH",
    ] {
        println!("cargo:rerun-if-env-changed={var}");
    }

    let lib = match build_probe_mpi::probe() {
        Ok(lib) => lib,
        Err(errs) => {
            let reasons: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
            panic!(
                "dlb-sys: no MPI library found. Install one (Debian: libopenmpi-dev or libmpich-dev) \
                 or point MPICC at its compiler wrapper. Reasons:\n{}",
                reasons.join("\n")
            );
        }
    };

    let mut cc = cc::Build::new();
    cc.file(&shim).include(&manifest);
    match &lib.mpicc {
        Some(mpicc) => {
            cc.compiler(mpicc);
        }
        None => {
            for dir in &lib.include_paths {
                cc.include(dir);
            }
        }
    }
    cc.compile("dlb_shim");
    for dir in &lib.lib_paths {
        println!("cargo:rustc-link-search=native={}", dir.display());
    }
    for name in &lib.libs {
        println!("cargo:rustc-link-lib={name}");
    }
    let joined = |paths: &[PathBuf]| {
        env::join_paths(paths)
            .expect("dlb-sys: an MPI path holds the path separator")
            .to_string_lossy()
            .into_owned()
    };
    // SimGrid's SMPI (simulated MPI; `ci/smpi`) lacks a few things of MPI-3
    // that dlb works around under `cfg(dlb_smpi)`: dlb's build script sets
    // it from this metadata.
    let smpi = lib
        .include_paths
        .iter()
        .any(|dir| dir.join("smpi.h").is_file());
    println!("cargo:smpi={}", u8::from(smpi));
    println!("cargo:include={}", joined(&lib.include_paths));
    println!("cargo:lib_paths={}", joined(&lib.lib_paths));
    println!("cargo:libs={}", lib.libs.join(" "));

    let mut bindgen = bindgen::builder().header(wrapper.to_string_lossy());
    for dir in &lib.include_paths {
        bindgen = bindgen.clang_arg(format!("-I{}", dir.display()));
    }
    let bindings = bindgen
        .allowlist_var("DLB_.*")
        .allowlist_type("dlb_.*")
        .allowlist_function("dlb_mpi_.*")
        .blocklist_type("MPI_.*|ompi_.*")
        .constified_enum_module("dlb_mpi_int_constants")
        .generate()
        .expect("dlb-sys: bindgen failed on wrapper.h");
    let out =
        PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("dlb_wrapper.rs");
    bindings
        .write_to_file(&out)
        .expect("dlb-sys: cannot write bindings");
}
