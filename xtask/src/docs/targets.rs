//! The generated reference documents.
//!
//! To add one, append a [`Target`] here: an output path, a title, an intro
//! and the sources its operations come from.

use super::{Files, Selector, Source, Target};

/// Every document `cargo xtask docs` generates.
pub fn targets() -> Vec<Target> {
    vec![Target {
        output: "docs/reference/store.md",
        title: "authn store API",
        intro: "The library API of `authn-store-pg`: the operations every authn store \
                implements (the traits of `authn_core::store`) and the PostgreSQL store's \
                own methods. Generated from the doc comments.",
        sources: vec![
            Source::Rust {
                files: Files::Dir("crates/authn-core/src/store"),
                selector: Selector::Traits,
            },
            Source::Rust {
                files: Files::Optional("crates/authn-store-pg/src/lib.rs"),
                selector: Selector::InherentImpl("PgStore"),
            },
            Source::Rust {
                files: Files::Optional("crates/authn-store-pg/src/store.rs"),
                selector: Selector::InherentImpl("PgStore"),
            },
        ],
    }]
}
