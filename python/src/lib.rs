//! The extension module `dlb._dlb`: dlb's Python bindings (the `python`
//! feature of the dlb crate, `src/python/`), built as the shared library
//! that `python/dlb/__init__.py` imports.

pub use dlb::python::*;
