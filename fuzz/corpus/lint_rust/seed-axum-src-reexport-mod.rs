//! A re-export chain through files without any framework vocabulary.
mod inner;

pub use inner::hidden;
