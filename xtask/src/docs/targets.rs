//! The generated reference documents.
//!
//! To add one, append a [`Target`] here: an output path, a title, an intro
//! and the sources its operations come from ([`Source::Rust`] for doc
//! comments, [`Source::OpenApi`] for an OpenAPI document).

use super::{Files, Selector, Source, Target};

/// Every document `cargo xtask docs` generates.
pub fn targets() -> Vec<Target> {
    vec![store(), http(), client()]
}

/// `docs/reference/store.md`: the store traits, then each backend's own
/// methods, named by type (`PgStore::connect`, `SqliteStore::connect`,
/// `AnyStore::connect` share their names).
fn store() -> Target {
    /// Each store type whose public inherent methods are documented.
    const TYPES: [(&str, &str); 4] = [
        ("crates/authn-store/src/lib.rs", "AnyStore"),
        ("crates/authn-store/src/lib.rs", "Backend"),
        ("crates/authn-store-pg/src/lib.rs", "PgStore"),
        ("crates/authn-store-sqlite/src/lib.rs", "SqliteStore"),
    ];
    let mut sources = vec![Source::Rust {
        files: Files::Dir("crates/authn-core/src/store"),
        selector: Selector::Traits,
    }];
    sources.extend(TYPES.into_iter().map(|(file, type_name)| Source::Rust {
        files: Files::File(file),
        selector: Selector::Methods(type_name),
    }));
    Target {
        output: "docs/reference/store.md",
        title: "authn store API",
        intro: "The library API of the authn stores: the operations every store implements \
                (the traits of `authn_core::store`, the same on every backend), then the \
                backends' own methods: `AnyStore` (picked by database URL), `PgStore` \
                (PostgreSQL) and `SqliteStore` (embedded SQLite). Generated from the doc \
                comments.",
        sources,
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

/// `docs/reference/client.md`: the Rust SDK's clients, session types and
/// axum guard. Several types have methods of the same name (`new`,
/// `builder`, `build`, `timeout`, `session`), so methods are named by type
/// (`AuthClient::login`).
fn client() -> Target {
    /// Each SDK type whose public methods are documented, with its file.
    const TYPES: [(&str, &str); 8] = [
        ("crates/authn-client/src/admin.rs", "AdminClient"),
        ("crates/authn-client/src/admin.rs", "AdminClientBuilder"),
        ("crates/authn-client/src/auth.rs", "AuthClient"),
        ("crates/authn-client/src/auth.rs", "AuthClientBuilder"),
        ("crates/authn-client/src/mfa.rs", "MfaClient"),
        ("crates/authn-client/src/session.rs", "Session"),
        ("crates/authn-client/src/session.rs", "SessionToken"),
        ("crates/authn-client/src/axum.rs", "Verifier"),
    ];
    let mut sources: Vec<Source> = TYPES
        .into_iter()
        .map(|(file, type_name)| Source::Rust {
            files: Files::File(file),
            selector: Selector::Methods(type_name),
        })
        .collect();
    // `require_session` and `require_mfa`.
    sources.push(Source::Rust {
        files: Files::File("crates/authn-client/src/axum.rs"),
        selector: Selector::Functions,
    });
    Target {
        output: "docs/reference/client.md",
        title: "authn Rust SDK (authn-client)",
        intro: "The Rust SDK of the authn HTTP API: `AuthClient` (one shared session, \
                cookie-free bearer), `MfaClient`, `AdminClient`, `compute_totp`, and the \
                axum guard (feature `axum`). Generated from the doc comments.",
        sources,
    }
}
