//! `cargo xtask docs`: Markdown reference docs generated from doc comments
//! and from the server's OpenAPI document.
//!
//! A [`Target`] is one generated file; its [`Source`]s yield [`Operation`]s,
//! which are sorted and rendered one `###` section each. The targets
//! themselves are configured in [`targets`](targets::targets).

mod markdown;
mod openapi;
mod rust_source;
mod signature;
pub mod targets;

use std::collections::BTreeMap;
use std::env;
use std::error::Error;
use std::ffi::OsString;
use std::fs;
use std::io;
use std::path::Path;
use std::process::{Command, Stdio};

use markdown::DocComment;
pub use rust_source::Selector;

/// First line of every generated file.
pub const HEADER: &str =
    "<!-- AUTO-GENERATED. DO NOT EDIT. Run `cargo xtask docs` to regenerate. -->";

/// One generated reference document.
#[derive(Debug, Clone)]
pub struct Target {
    /// Output path, relative to the workspace root.
    pub output: &'static str,
    /// The document's `#` title.
    pub title: &'static str,
    /// Paragraph written under the title.
    pub intro: &'static str,
    /// Where the operations come from; their union is sorted by
    /// [`Operation::sort_key`].
    pub sources: Vec<Source>,
}

/// Where a target's operations come from. Every kind yields
/// [`Operation`]s; a new kind is a further variant.
#[derive(Debug, Clone)]
pub enum Source {
    /// Items picked out of Rust source files by a [`Selector`].
    Rust {
        /// The files to read.
        files: Files,
        /// Which items of each file are operations.
        selector: Selector,
    },
    /// The operations of an OpenAPI 3.1 document, one per path and method,
    /// sorted by path then method (GET, POST, PUT, PATCH, DELETE, ...).
    OpenApi {
        /// Arguments of a cargo command that prints the document on stdout;
        /// run at the workspace root with `$CARGO` (the cargo running
        /// xtask), else `cargo`.
        command: &'static [&'static str],
        /// The handlers' sources: an operation's location is the first
        /// `async fn <operationId>(` in them.
        handlers: Files,
        /// Schemas the target's intro describes (the error body): responses
        /// name them without listing their fields.
        common_schemas: &'static [&'static str],
    },
}

/// Rust files of a [`Source`], relative to the workspace root.
#[derive(Debug, Clone)]
pub enum Files {
    /// A file that must exist.
    File(&'static str),
    /// Every `*.rs` file directly in this directory, in name order; nothing
    /// when the directory does not exist.
    Dir(&'static str),
}

/// One documented operation: a `###` section of the output.
#[derive(Debug, Clone)]
pub struct Operation {
    /// Section heading; unique within a target.
    pub name: String,
    /// Where the section goes: the name for Rust items, (path, method rank)
    /// for HTTP operations.
    pub sort_key: (String, u8),
    /// Info string of the signature's code block (`rust`, `http`).
    pub signature_lang: &'static str,
    /// The signature as callers see it.
    pub signature: String,
    /// The parsed doc comment.
    pub doc: DocComment,
    /// `path:line` of the definition, path relative to the workspace root.
    pub location: String,
}

impl Source {
    /// Reads this source's operations from the workspace at `root`.
    fn operations(&self, root: &Path) -> Result<Vec<Operation>, String> {
        match self {
            Source::Rust { files, selector } => {
                let mut ops = Vec::new();
                let mut problems = Vec::new();
                for (path, src) in files.read(root)? {
                    match rust_source::operations(&path, &src, *selector) {
                        Ok(found) => ops.extend(found),
                        Err(e) => problems.push(e),
                    }
                }
                if problems.is_empty() {
                    Ok(ops)
                } else {
                    Err(problems.join("\n"))
                }
            }
            Source::OpenApi {
                command,
                handlers,
                common_schemas,
            } => {
                let doc = run_cargo_json(root, command)?;
                for warning in openapi::warnings(&doc) {
                    eprintln!("xtask: warning: {warning}");
                }
                let files = handlers.read(root)?;
                openapi::operations(&doc, &files, &handlers.to_string(), common_schemas)
            }
        }
    }
}

/// Runs `cargo <args>` at `root` and parses its stdout as JSON; cargo's own
/// output (and the command's stderr) goes to stderr.
fn run_cargo_json(root: &Path, args: &[&str]) -> Result<serde_json::Value, String> {
    let cargo = env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let shown = format!("cargo {}", args.join(" "));
    let output = Command::new(&cargo)
        .args(args)
        .current_dir(root)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run `{shown}`: {e}"))?;
    if !output.status.success() {
        return Err(format!("`{shown}` failed ({})", output.status));
    }
    serde_json::from_slice(&output.stdout).map_err(|e| format!("`{shown}` did not print JSON: {e}"))
}

impl std::fmt::Display for Files {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Files::File(path) => f.write_str(path),
            Files::Dir(dir) => write!(f, "{}/*.rs", dir.trim_end_matches('/')),
        }
    }
}

impl Files {
    /// The existing files' paths (as [`Files::resolve`]) and contents.
    fn read(&self, root: &Path) -> Result<Vec<(String, String)>, String> {
        self.resolve(root)?
            .into_iter()
            .map(|path| {
                let src = fs::read_to_string(root.join(&path))
                    .map_err(|e| format!("{path}: cannot read: {e}"))?;
                Ok((path, src))
            })
            .collect()
    }

    /// The existing files, as `/`-separated paths relative to `root`.
    fn resolve(&self, root: &Path) -> Result<Vec<String>, String> {
        match self {
            Files::File(path) => {
                if root.join(path).is_file() {
                    Ok(vec![(*path).to_owned()])
                } else {
                    Err(format!("{path}: no such file"))
                }
            }
            Files::Dir(dir) => {
                let entries = match fs::read_dir(root.join(dir)) {
                    Ok(entries) => entries,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
                    Err(e) => return Err(format!("{dir}: cannot list: {e}")),
                };
                let mut paths = Vec::new();
                for entry in entries {
                    let entry = entry.map_err(|e| format!("{dir}: cannot list: {e}"))?;
                    let name = entry.file_name().to_string_lossy().into_owned();
                    if name.ends_with(".rs") && entry.path().is_file() {
                        paths.push(format!("{}/{name}", dir.trim_end_matches('/')));
                    }
                }
                paths.sort();
                Ok(paths)
            }
        }
    }
}

/// Generates `target`'s document from the workspace at `root`.
pub fn generate(root: &Path, target: &Target) -> Result<String, String> {
    let mut ops = Vec::new();
    let mut problems = Vec::new();
    for source in &target.sources {
        match source.operations(root) {
            Ok(found) => ops.extend(found),
            Err(e) => problems.push(e),
        }
    }
    if !problems.is_empty() {
        return Err(problems.join("\n"));
    }
    render(target, ops)
}

/// Renders a document: header, title, intro, then the operations sorted by
/// their sort key. Fails on duplicate names, which would make the sections
/// ambiguous.
pub fn render(target: &Target, mut ops: Vec<Operation>) -> Result<String, String> {
    let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
    let mut duplicates = Vec::new();
    for op in &ops {
        if let Some(first) = seen.insert(&op.name, &op.location) {
            duplicates.push(format!(
                "{}: duplicate operation `{}` (also at {first})",
                op.location, op.name
            ));
        }
    }
    if !duplicates.is_empty() {
        return Err(duplicates.join("\n"));
    }
    ops.sort_by(|a, b| a.sort_key.cmp(&b.sort_key));

    let mut blocks = vec![HEADER.to_owned(), format!("# {}", target.title)];
    if !target.intro.is_empty() {
        blocks.push(target.intro.to_owned());
    }
    blocks.extend(ops.iter().map(render_operation));
    Ok(blocks.join("\n\n") + "\n")
}

fn render_operation(op: &Operation) -> String {
    format!(
        "### {}\n\n```{}\n{}\n```\n\n{}\n\n*Source: {}*\n\n---",
        op.name,
        op.signature_lang,
        op.signature,
        op.doc.to_markdown(),
        op.location
    )
}

/// Writes every target's document under `root`, or with `check` only
/// compares them with the files on disk and fails when any is stale.
pub fn run(root: &Path, check: bool) -> Result<(), Box<dyn Error>> {
    let mut failures = Vec::new();
    for target in targets::targets() {
        let generated = match generate(root, &target) {
            Ok(generated) => generated,
            Err(e) => {
                failures.push(format!("cannot generate {}:\n{e}", target.output));
                continue;
            }
        };
        let path = root.join(target.output);
        let on_disk = match fs::read_to_string(&path) {
            Ok(s) => Some(s),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(format!("{}: cannot read: {e}", target.output).into()),
        };
        let up_to_date = on_disk.as_deref() == Some(generated.as_str());
        if check {
            if on_disk.is_none() {
                failures.push(format!(
                    "{} is missing: run `cargo xtask docs`",
                    target.output
                ));
            } else if !up_to_date {
                failures.push(format!(
                    "{} is stale: run `cargo xtask docs`",
                    target.output
                ));
            }
        } else if up_to_date {
            eprintln!("xtask: {} is up to date", target.output);
        } else {
            if let Some(dir) = path.parent() {
                fs::create_dir_all(dir)
                    .map_err(|e| format!("{}: cannot create: {e}", dir.display()))?;
            }
            fs::write(&path, &generated)
                .map_err(|e| format!("{}: cannot write: {e}", target.output))?;
            eprintln!("xtask: wrote {}", target.output);
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures.join("\n").into())
    }
}

#[cfg(test)]
#[allow(clippy::expect_used)] // A failed expectation is a failed test.
mod tests {
    use super::*;

    fn target(sources: Vec<Source>) -> Target {
        Target {
            output: "docs/reference/test.md",
            title: "test API",
            intro: "Intro paragraph.",
            sources,
        }
    }

    const TRAITS: &str = r#"use std::future::Future;

/// Users.
pub trait UserStore: Send + Sync {
    /// Creates a user.
    ///
    /// The address is stored as given.
    ///
    /// # Parameters
    /// - `email`: the address; trimmed and lower-cased.
    /// - `password_hash`: see [`PasswordHash`].
    ///
    /// # Returns
    /// The new user's id.
    ///
    /// # Errors
    /// - [`StoreError::AlreadyExists`] when the address is taken.
    /// - [`StoreError::Backend`](crate::StoreError::Backend) on database errors.
    ///
    /// # Example
    /// ```no_run
    /// # async fn f(store: authn_store_pg::PgStore) -> Result<(), authn_core::StoreError> {
    /// let id = store.create_user("a@example.com", None).await?;
    /// # Ok(()) }
    /// ```
    fn create_user(
        &self,
        email: &str,
        password_hash: Option<&PasswordHash>,
    ) -> impl Future<Output = StoreResult<UserId>> + Send;

    /// Deletes a user.
    async fn delete_user(&self, id: UserId) -> StoreResult<()>;
}
"#;

    const INHERENT: &str = r#"
impl PgStore {
    /// Records a login attempt.
    pub async fn record_login_attempt(&self, user_id: UserId, ip_address: Option<IpAddr>, user_agent: Option<&str>) -> StoreResult<()> {
        Ok(())
    }

    /// Connects.
    ///
    /// # Returns
    /// A store.
    ///
    /// Unmigrated.
    pub fn connect(url: &str) -> Self { todo!() }
}
"#;

    fn ops(path: &str, src: &str, selector: Selector) -> Vec<Operation> {
        rust_source::operations(path, src, selector).expect("fixture is documented")
    }

    #[test]
    fn renders_a_full_document() {
        let mut all = ops("crates/core/src/store/users.rs", TRAITS, Selector::Traits);
        all.extend(ops(
            "crates/pg/src/store.rs",
            INHERENT,
            Selector::Methods("PgStore"),
        ));
        let doc = render(&target(Vec::new()), all).expect("renders");
        let expected = r#"<!-- AUTO-GENERATED. DO NOT EDIT. Run `cargo xtask docs` to regenerate. -->

# test API

Intro paragraph.

### PgStore::connect

```rust
fn connect(url: &str) -> Self
```

Connects.

**Returns:**

A store.

Unmigrated.

*Source: crates/pg/src/store.rs:14*

---

### PgStore::record_login_attempt

```rust
async fn record_login_attempt(
    &self,
    user_id: UserId,
    ip_address: Option<IpAddr>,
    user_agent: Option<&str>,
) -> StoreResult<()>
```

Records a login attempt.

*Source: crates/pg/src/store.rs:4*

---

### create_user

```rust
async fn create_user(
    &self,
    email: &str,
    password_hash: Option<&PasswordHash>,
) -> StoreResult<UserId>
```

Creates a user.

The address is stored as given.

**Parameters:**
- `email`: the address; trimmed and lower-cased.
- `password_hash`: see `PasswordHash`.

**Returns:** The new user's id.

**Errors:**
- `StoreError::AlreadyExists` when the address is taken.
- `StoreError::Backend` on database errors.

**Example:**

```rust
let id = store.create_user("a@example.com", None).await?;
```

*Source: crates/core/src/store/users.rs:26*

---

### delete_user

```rust
async fn delete_user(&self, id: UserId) -> StoreResult<()>
```

Deletes a user.

*Source: crates/core/src/store/users.rs:33*

---
"#;
        assert_eq!(doc, expected);
    }

    #[test]
    fn empty_target_has_header_title_and_intro() {
        let doc = render(&target(Vec::new()), Vec::new()).expect("renders");
        assert_eq!(doc, format!("{HEADER}\n\n# test API\n\nIntro paragraph.\n"));
    }

    #[test]
    fn duplicate_names_are_errors() {
        let mut all = ops("a.rs", TRAITS, Selector::Traits);
        all.extend(ops("b.rs", TRAITS, Selector::Traits));
        let err = render(&target(Vec::new()), all).expect_err("duplicates are rejected");
        assert_eq!(
            err,
            "b.rs:26: duplicate operation `create_user` (also at a.rs:26)\nb.rs:33: duplicate operation `delete_user` (also at a.rs:33)"
        );
    }

    #[test]
    fn qualified_methods_of_several_types_do_not_collide() {
        let src = r#"
impl AuthClientBuilder {
    /// Sets the timeout.
    pub fn timeout(self, timeout: Duration) -> Self { self }
    /// Builds the client.
    pub fn build(self) -> Result<AuthClient, ClientError> { todo!() }
}
impl AdminClientBuilder {
    /// Sets the timeout.
    pub fn timeout(self, timeout: Duration) -> Self { self }
    /// Builds the client.
    pub fn build(self) -> Result<AdminClient, ClientError> { todo!() }
}
impl AdminClient {
    /// Audit log.
    pub async fn audit(&self) -> Result<(), ClientError> { Ok(()) }
}
/// A layer.
pub fn require_session(verifier: Verifier) -> RequireSessionLayer { todo!() }
"#;
        let mut all = Vec::new();
        for selector in [
            Selector::Methods("AuthClientBuilder"),
            Selector::Methods("AdminClientBuilder"),
            Selector::Methods("AdminClient"),
            Selector::Functions,
        ] {
            all.extend(ops("src/client.rs", src, selector));
        }
        let doc = render(&target(Vec::new()), all).expect("qualified names are unique");
        let sections: Vec<&str> = doc.lines().filter(|l| l.starts_with("### ")).collect();
        assert_eq!(
            sections,
            [
                "### AdminClient::audit",
                "### AdminClientBuilder::build",
                "### AdminClientBuilder::timeout",
                "### AuthClientBuilder::build",
                "### AuthClientBuilder::timeout",
                "### require_session",
            ]
        );
        assert!(
            doc.contains(
                "### AdminClientBuilder::build\n\n```rust\nfn build(self) -> Result<AdminClient, ClientError>\n```\n\nBuilds the client.\n\n*Source: src/client.rs:12*"
            ),
            "{doc}"
        );
    }

    #[test]
    fn files_are_globbed_and_sorted_and_missing_ones_handled() {
        let root = std::env::temp_dir().join(format!("xtask-docs-test-{}", std::process::id()));
        let dir = root.join("src/store");
        fs::create_dir_all(&dir).expect("temp dir");
        fs::write(dir.join("users.rs"), TRAITS).expect("write");
        fs::write(
            dir.join("audit.rs"),
            "/// A.\npub trait Audit {\n    /// Logs.\n    fn log(&self);\n}\n",
        )
        .expect("write");
        fs::write(dir.join("notes.txt"), "not rust").expect("write");

        let t = target(vec![
            Source::Rust {
                files: Files::Dir("src/store"),
                selector: Selector::Traits,
            },
            Source::Rust {
                files: Files::Dir("src/absent"),
                selector: Selector::Traits,
            },
        ]);
        let doc = generate(&root, &t);
        let mut required = t.clone();
        required.sources.push(Source::Rust {
            files: Files::File("src/absent.rs"),
            selector: Selector::Traits,
        });
        let missing = generate(&root, &required);
        let _ = fs::remove_dir_all(&root);

        let doc = doc.expect("generates");
        let sections: Vec<&str> = doc.lines().filter(|l| l.starts_with("### ")).collect();
        assert_eq!(sections, ["### create_user", "### delete_user", "### log"]);
        assert!(doc.contains("*Source: src/store/audit.rs:4*"), "{doc}");
        assert_eq!(
            missing.err().as_deref(),
            Some("src/absent.rs: no such file")
        );
    }
}
