//! The crate's error type: one opaque struct, a public kind to match on.
//!
//! Every fallible call in dlb returns [`Error`]. MPI failures carry the text of
//! `MPI_Error_string` and the name of the call that failed; misuse (a zero
//! `maxjobs`, `setup` with different arguments on different ranks, ...)
//! carries a sentence saying what to do instead.

use std::fmt;

/// What went wrong, broadly. Match on this; read [`Error`]'s `Display` text
/// for the details.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// An argument is out of range (`maxjobs == 0`, a job count above
    /// `i64::MAX`, a bad environment variable, ...).
    InvalidArgument,
    /// The call is not allowed in the current state (MPI not initialized,
    /// a previous run left unfinished, ...).
    InvalidState,
    /// Ranks called a collective operation with different arguments.
    Mismatch,
    /// The requested configuration is not available on this machine or MPI
    /// (for example shared-memory atomics across nodes).
    Unsupported,
    /// An MPI call returned an error.
    Mpi,
    /// dlb detected a broken invariant of its own protocol: a bug in dlb or
    /// memory corruption. Please report it.
    Internal,
}

/// The error type of every fallible dlb call.
///
/// ```
/// use dlb::{Error, ErrorKind};
/// fn explain(e: &Error) -> &'static str {
///     match e.kind() {
///         ErrorKind::InvalidArgument => "fix the argument",
///         ErrorKind::Mpi => "MPI failed",
///         _ => "see the message",
///     }
/// }
/// # let _ = explain;
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    mpi_code: Option<i32>,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            kind,
            message: message.into(),
            mpi_code: None,
        }
    }

    pub(crate) fn mpi(call: &str, code: i32, text: &str) -> Error {
        Error {
            kind: ErrorKind::Mpi,
            message: format!("{call} failed with MPI error {code}: {text}"),
            mpi_code: Some(code),
        }
    }

    pub(crate) fn invalid_argument(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::InvalidArgument, message)
    }

    pub(crate) fn invalid_state(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::InvalidState, message)
    }

    pub(crate) fn internal(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Internal, message)
    }

    /// The broad class of the error.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The MPI error code, when an MPI call failed.
    pub fn mpi_code(&self) -> Option<i32> {
        self.mpi_code
    }

    /// The message alone, without the kind.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "dlb: {}", self.message)
    }
}

impl std::error::Error for Error {}

/// Shorthand used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_the_library_and_the_call() {
        let e = Error::mpi("MPI_Win_allocate", 45, "MPI_ERR_WIN: invalid window");
        assert_eq!(e.kind(), ErrorKind::Mpi);
        assert_eq!(e.mpi_code(), Some(45));
        assert_eq!(
            e.to_string(),
            "dlb: MPI_Win_allocate failed with MPI error 45: MPI_ERR_WIN: invalid window"
        );
        let u = Error::invalid_argument("maxjobs must be at least 1");
        assert_eq!(u.kind(), ErrorKind::InvalidArgument);
        assert_eq!(u.mpi_code(), None);
    }
}
