#!/usr/bin/env python3
"""check_recipe.py RECIPE: checks dlb's Spack recipe without Spack.

Loads RECIPE (packaging/spack/packages/dlbrma/package.py) against a stand-in
for Spack's package API that records the directives, then checks what the
recipe declares (a version, the license, depends_on("mpi"), the fortran
variant, Rust and libclang at build time) and what it does: the build
environment it sets and the ci/install command line its install() runs, with
and without +fortran. A Spack that is installed can check more (`spack
audit`, `spack spec`); this catches what a recipe edit most often breaks
(a syntax error, a name Spack's API does not have, a wrong command line)."""
import importlib.util
import sys
import types

recorded = []  # (directive, args, kwargs)


def directive(name):
    def record(*args, **kwargs):
        recorded.append((name, args, kwargs))
        return None

    return record


def run_after(phase):
    def mark(fn):
        fn.run_after = phase
        return fn

    return mark


class InstallError(Exception):
    pass


class Package:
    pass


class Executable:
    calls = []

    def __init__(self, name):
        self.name = name

    def __call__(self, *args):
        Executable.calls.append((self.name, [str(a) for a in args]))


def which(name, required=False):
    return Executable(name)


def join_path(*parts):
    return "/".join(str(p) for p in parts)


api = types.ModuleType("spack.package")
for name in ["version", "variant", "depends_on", "license", "maintainers", "conflicts", "patch", "provides"]:
    setattr(api, name, directive(name))
api.run_after = run_after
api.InstallError = InstallError
api.Package = Package
api.which = which
api.join_path = join_path
api.find_libraries = lambda *a, **k: list(a)
api.__all__ = [n for n in vars(api) if not n.startswith("_")]
spack = types.ModuleType("spack")
spack.package = api
sys.modules["spack"] = spack
sys.modules["spack.package"] = api

path = sys.argv[1]
spec_ = importlib.util.spec_from_file_location("dlbrma_recipe", path)
recipe = importlib.util.module_from_spec(spec_)
spec_.loader.exec_module(recipe)

problems = []


def need(cond, what):
    if not cond:
        problems.append(what)


cls = getattr(recipe, "Dlbrma", None)
need(cls is not None and issubclass(cls, Package), "class Dlbrma(Package) is missing")
names = {(d, a[0]) for d, a, _ in recorded if a}
need(any(d == "version" for d, _, _ in recorded), "no version()")
need(("license", "MIT OR Apache-2.0") in names, 'license("MIT OR Apache-2.0") is missing')
need(("depends_on", "mpi") in names, 'depends_on("mpi") is missing')
need(("variant", "fortran") in names, 'variant("fortran") is missing')
need(any(d == "depends_on" and a[0].startswith("rust") for d, a, _ in recorded), "no build dependency on rust")
need(any(d == "depends_on" and a[0].startswith("llvm") for d, a, _ in recorded), "no build dependency on llvm (libclang)")
# depends_on("c") and depends_on("fortran") need Spack 0.22.2 (a backport of
# 0.23's language dependencies): the docstring says so.
need("Spack 0.22.2 or newer" in " ".join((getattr(cls, "__doc__", None) or "").split()),
     "the docstring does not say that the recipe needs Spack 0.22.2 or newer")


class Spec:
    def __init__(self, fortran):
        self.fortran = fortran
        mpi = types.SimpleNamespace(mpicc="/mpi/bin/mpicc", mpifc="/mpi/bin/mpif90")
        llvm = types.SimpleNamespace(prefix=types.SimpleNamespace(lib="/llvm/lib"))
        self.deps = {"mpi": mpi, "llvm": llvm}

    def __getitem__(self, name):
        return self.deps[name]

    def satisfies(self, constraint):
        return {"+fortran": self.fortran, "~fortran": not self.fortran}[constraint]


class Env:
    def __init__(self):
        self.vars = {}

    def set(self, name, value):
        self.vars[name] = str(value)


for fortran in (True, False):
    pkg = cls.__new__(cls)
    pkg.spec = Spec(fortran)
    pkg.stage = types.SimpleNamespace(path="/stage", source_path="/stage/src")
    env = Env()
    pkg.setup_build_environment(env)
    need(env.vars.get("MPICC") == "/mpi/bin/mpicc", f"fortran={fortran}: MPICC is not the MPI's mpicc")
    need(("MPIFC" in env.vars) == fortran, f"fortran={fortran}: MPIFC set wrongly")
    need(env.vars.get("CARGO_HOME", "").startswith("/stage"), "CARGO_HOME is not inside the stage")
    Executable.calls.clear()
    pkg.install(pkg.spec, "/opt/dlbrma")
    need(len(Executable.calls) == 1, f"fortran={fortran}: install() ran {len(Executable.calls)} commands, not 1")
    if Executable.calls:
        _, args = Executable.calls[0]
        need(args[:1] == ["/stage/src/ci/install"], f"install() does not run ci/install: {args}")
        need("--prefix" in args and args[args.index("--prefix") + 1] == "/opt/dlbrma", f"no --prefix: {args}")
        need(("--no-fortran" in args) == (not fortran), f"fortran={fortran}: --no-fortran wrongly: {args}")
need(getattr(cls.check_install, "run_after", None) == "install", "check_install is not run after install")

if problems:
    sys.exit("ci/spack-check: " + "; ".join(problems))
print(f"ci/spack-check: {path}: {len(recorded)} directives, install() runs ci/install as expected: PASS")
