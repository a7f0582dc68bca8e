//! The generated reference documents.
//!
//! To add one, append a [`Target`] here: an output path, a title, an intro
//! and the sources its operations come from ([`Source::Rust`] for doc
//! comments, [`Source::OpenApi`] for an OpenAPI document).

use super::{Files, Selector, Source, Target};

/// Every document `cargo xtask docs` generates.
pub fn targets() -> Vec<Target> {
    vec![store(), http()]
}

/// `docs/reference/store.md`: the store traits and `PgStore`.
fn store() -> Target {
    Target {
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
    }
}

/// `docs/reference/http.md`: the server's routes, from the OpenAPI document
/// that `authn openapi` prints (the one served at `GET /api/openapi.json`).
fn http() -> Target {
    Target {
        output: "docs/reference/http.md",
        title: "authn HTTP API",
        intro: "The HTTP API of `authn-server`, generated from its OpenAPI document \
                (`GET /api/openapi.json`). Errors are \
                `{\"error\": \"<slug>\", \"message\": \"...\"}`; admin routes take the \
                admin key as `Authorization: Bearer`.",
        sources: vec![Source::OpenApi {
            command: &[
                "run",
                "--quiet",
                "--package",
                "authn-server",
                "--bin",
                "authn",
                "--",
                "openapi",
            ],
            handlers: Files::Dir("crates/authn-server/src/routes"),
            common_schemas: &["ErrorBody"],
        }],
    }
}
