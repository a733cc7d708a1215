# Spack recipe for dlb's C and Fortran library, dlbrma (MIT OR Apache-2.0,
# as dlb). Needs Spack 0.22.2 or newer (see the class docstring). See
# packaging/spack/README.md in dlb's repository for how to use it;
# ci/spack-check checks it without Spack.

import os

from spack.package import *

try:  # Spack >= 1.0 keeps the build systems in the builtin repository
    from spack_repo.builtin.build_systems.generic import Package
except ImportError:  # Spack 0.2x: Package comes with spack.package
    pass


class Dlbrma(Package):
    """dlb: dynamic load balancing for MPI programs with MPI-3 one-sided
    atomics (lock-free work stealing, no threads, no messages). Installs the
    C library libdlbrma with dlbrma.h, the Fortran module dlb (DLB's
    interface), pkg-config files, a CMake package (find_package(dlbrma))
    and the dlbcheck command. Named dlbrma so that it installs beside BSC's
    DLB (package dlb).

    Needs Spack 0.22.2 or newer (or 0.21.3): the recipe declares the
    languages it compiles with depends_on("c") and depends_on("fortran"),
    the language dependencies of Spack 0.23, which 0.22.2 and 0.21.3 accept
    through a backport and older releases do not know; its
    license() directive needs 0.21. ci/install, which install() runs, is
    tested with Open MPI and MPICH; other MPI providers are untested."""

    # No public repository yet: build from a checkout of dlb with
    #   spack develop --path /path/to/dlb dlbrma@=main
    version("main")

    license("MIT OR Apache-2.0")

    variant("fortran", default=True, description="Build the Fortran module dlb")

    depends_on("c", type="build")
    depends_on("fortran", type="build", when="+fortran")
    depends_on("mpi")
    depends_on("rust@1.82:", type="build")
    # bindgen (dlb-sys's raw MPI bindings) loads libclang at build time.
    depends_on("llvm+clang", type="build")

    def setup_build_environment(self, env):
        spec = self.spec
        env.set("MPICC", spec["mpi"].mpicc)
        if spec.satisfies("+fortran"):
            env.set("MPIFC", spec["mpi"].mpifc)
        env.set("LIBCLANG_PATH", spec["llvm"].prefix.lib)
        # Cargo's caches and build tree inside the stage, not $HOME.
        env.set("CARGO_HOME", join_path(self.stage.path, "cargo-home"))
        env.set("CARGO_TARGET_DIR", join_path(self.stage.path, "cargo-target"))

    def install(self, spec, prefix):
        args = ["--prefix", prefix]
        if spec.satisfies("~fortran"):
            args.append("--no-fortran")
        bash = which("bash", required=True)
        bash(join_path(self.stage.source_path, "ci", "install"), *args)

    @run_after("install")
    def check_install(self):
        # The installed tree must hold what users link against.
        for path in [
            join_path(self.prefix.lib, "libdlbrma.so"),
            join_path(self.prefix.lib, "libdlbrma.a"),
            join_path(self.prefix.include, "dlbrma.h"),
            join_path(self.prefix.lib, "cmake", "dlbrma", "dlbrma-config.cmake"),
            join_path(self.prefix.lib, "pkgconfig", "dlbrma.pc"),
            join_path(self.prefix.lib, "pkgconfig", "dlbrma-static.pc"),
        ]:
            if not os.path.exists(path):
                raise InstallError(f"dlbrma: {path} was not installed")

    @property
    def libs(self):
        return find_libraries("libdlbrma", root=self.prefix, recursive=True)
