//! dlb
