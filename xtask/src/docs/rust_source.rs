//! Operations read out of Rust source files with `syn`.

use syn::{Attribute, ImplItem, Item, Meta, Signature, TraitItem, Type, Visibility};

use super::Operation;
use super::markdown::DocComment;
use super::signature;

/// Which items of a Rust file are operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selector {
    /// Every method of every `pub trait` (methods with `#[doc(hidden)]` are
    /// skipped).
    Traits,
    /// Every `pub fn` in `impl TypeName { .. }` blocks (not trait impls;
    /// methods with `#[doc(hidden)]` are skipped), each named, and sorted,
    /// by the type and the method (`AuthClient::login`), so that several
    /// types' methods of the same name do not collide.
    Methods(&'static str),
    /// Every `pub fn` item of the file's modules (free functions, not
    /// methods), named by the function alone.
    Functions,
}

/// Parses `src` (the contents of `path`, which is relative to the workspace
/// root) and returns its operations in source order.
///
/// Fails, listing every offender as `path:line`, when an operation has no doc
/// comment.
pub fn operations(path: &str, src: &str, selector: Selector) -> Result<Vec<Operation>, String> {
    let file = syn::parse_file(src).map_err(|e| {
        let at = e.span().start();
        format!("{path}:{}:{}: cannot parse: {e}", at.line, at.column + 1)
    })?;
    let mut found = Vec::new();
    collect(&file.items, selector, &mut found);

    let mut ops = Vec::new();
    let mut problems = Vec::new();
    for (attrs, sig) in found {
        let location = format!("{path}:{}", sig.fn_token.span.start().line);
        let name = match selector {
            Selector::Methods(type_name) => format!("{type_name}::{}", sig.ident),
            Selector::Traits | Selector::Functions => sig.ident.to_string(),
        };
        let text = doc_text(attrs);
        let doc = DocComment::parse(&text);
        if doc.description.trim().is_empty() {
            problems.push(if text.trim().is_empty() {
                format!("{location}: `{name}` has no doc comment")
            } else {
                format!(
                    "{location}: the doc comment of `{name}` has no summary before its first `#` heading"
                )
            });
            continue;
        }
        ops.push(Operation {
            sort_key: (name.clone(), 0),
            name,
            signature_lang: "rust",
            signature: signature::render(sig),
            doc,
            location,
        });
    }
    if problems.is_empty() {
        Ok(ops)
    } else {
        Err(problems.join("\n"))
    }
}

fn collect<'a>(
    items: &'a [Item],
    selector: Selector,
    out: &mut Vec<(&'a [Attribute], &'a Signature)>,
) {
    for item in items {
        match (item, selector) {
            (Item::Trait(t), Selector::Traits)
                if matches!(t.vis, Visibility::Public(_)) && !is_hidden(&t.attrs) =>
            {
                for ti in &t.items {
                    if let TraitItem::Fn(f) = ti
                        && !is_hidden(&f.attrs)
                    {
                        out.push((&f.attrs, &f.sig));
                    }
                }
            }
            (Item::Impl(imp), Selector::Methods(name))
                if imp.trait_.is_none() && is_type_named(&imp.self_ty, name) =>
            {
                for ii in &imp.items {
                    if let ImplItem::Fn(f) = ii
                        && matches!(f.vis, Visibility::Public(_))
                        && !is_hidden(&f.attrs)
                    {
                        out.push((&f.attrs, &f.sig));
                    }
                }
            }
            (Item::Fn(f), Selector::Functions)
                if matches!(f.vis, Visibility::Public(_)) && !is_hidden(&f.attrs) =>
            {
                out.push((&f.attrs, &f.sig));
            }
            (Item::Mod(m), _) if !is_cfg_test(&m.attrs) => {
                if let Some((_, items)) = &m.content {
                    collect(items, selector, out);
                }
            }
            _ => {}
        }
    }
}

fn is_type_named(ty: &Type, name: &str) -> bool {
    match ty {
        Type::Path(p) if p.qself.is_none() => {
            p.path.segments.last().is_some_and(|s| s.ident == name)
        }
        _ => false,
    }
}

/// `#[doc(hidden)]`.
fn is_hidden(attrs: &[Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("doc")
            && matches!(&a.meta, Meta::List(l) if l.tokens.to_string().split(',').any(|t| t.trim() == "hidden"))
    })
}

/// `#[cfg(test)]`: test-only modules are not API.
fn is_cfg_test(attrs: &[Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("cfg")
            && matches!(&a.meta, Meta::List(l) if l.tokens.to_string() == "test")
    })
}

/// The doc comment's text, unindented the way rustdoc does it: the smallest
/// indentation of the non-blank lines is removed from every line, so the
/// space after `///` goes but indented code keeps its relative indentation.
pub fn doc_text(attrs: &[Attribute]) -> String {
    let mut lines: Vec<String> = Vec::new();
    for attr in attrs {
        if let Meta::NameValue(nv) = &attr.meta
            && nv.path.is_ident("doc")
            && let syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(s),
                ..
            }) = &nv.value
        {
            // `split`, not `lines`: an empty `///` line must stay a blank line.
            lines.extend(s.value().split('\n').map(str::to_owned));
        }
    }
    let indent = lines
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.chars().take_while(|c| *c == ' ' || *c == '\t').count())
        .min()
        .unwrap_or(0);
    lines
        .iter()
        .map(|l| l.get(indent..).unwrap_or("").trim_end())
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
#[allow(clippy::expect_used)] // A failed expectation is a failed test.
mod tests {
    use super::*;

    fn names(src: &str, selector: Selector) -> Vec<String> {
        operations("f.rs", src, selector)
            .expect("fixture is documented")
            .into_iter()
            .map(|op| op.name)
            .collect()
    }

    #[test]
    fn traits_selector_takes_pub_trait_methods() {
        let src = r#"
            /// T.
            pub trait Users {
                /// A.
                fn a(&self);
                #[doc(hidden)]
                fn hidden(&self);
                /// B.
                async fn b(&self) -> u8 { 1 }
            }
            trait Private { fn p(&self); }
            #[doc(hidden)]
            pub trait Hidden { fn h(&self); }
            pub mod inner {
                /// I.
                pub trait Inner {
                    /// C.
                    fn c(&self);
                }
            }
            #[cfg(test)]
            mod tests { pub trait T { fn t(&self); } }
        "#;
        assert_eq!(names(src, Selector::Traits), ["a", "b", "c"]);
    }

    #[test]
    fn methods_selector_takes_pub_fns_of_that_types_inherent_impls() {
        let src = r#"
            impl PgStore {
                /// New.
                pub fn new() -> Self { todo!() }
                fn private(&self) {}
                pub(crate) fn crate_only(&self) {}
                /// Migrate.
                pub async fn migrate(&self) -> Result<(), E> { Ok(()) }
            }
            impl<'a> crate::PgStore {
                /// Pool.
                pub fn pool(&self) -> &'a Pool { todo!() }
            }
            impl Other { /// X.
                pub fn x(&self) {} }
            impl UserStore for PgStore { fn a(&self) {} }
        "#;
        assert_eq!(
            names(src, Selector::Methods("PgStore")),
            ["PgStore::new", "PgStore::migrate", "PgStore::pool"]
        );
    }

    const SDK: &str = r#"
        /// A.
        pub struct AuthClient;
        impl AuthClient {
            /// New client.
            pub fn new(base_url: &str) -> Result<Self, ClientError> { todo!() }
            /// Builder.
            pub fn builder(base_url: &str) -> AuthClientBuilder { todo!() }
            fn private(&self) {}
            /// Logs in.
            pub async fn login(&self, email: &str, password: &str) -> Result<Login, ClientError> { todo!() }
        }
        impl AuthClientBuilder {
            /// Timeout.
            pub fn timeout(self, timeout: Duration) -> Self { self }
            /// Build.
            pub fn build(self) -> Result<AuthClient, ClientError> { todo!() }
        }
        impl fmt::Debug for AuthClient { fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { Ok(()) } }
        /// A free function.
        pub fn helper() {}
    "#;

    #[test]
    fn methods_selector_names_and_sorts_by_type_and_method() {
        let ops = operations("auth.rs", SDK, Selector::Methods("AuthClient"))
            .expect("fixture is documented");
        let named: Vec<(&str, &str)> = ops
            .iter()
            .map(|op| (op.name.as_str(), op.sort_key.0.as_str()))
            .collect();
        assert_eq!(
            named,
            [
                ("AuthClient::new", "AuthClient::new"),
                ("AuthClient::builder", "AuthClient::builder"),
                ("AuthClient::login", "AuthClient::login"),
            ]
        );
        // The signature stays the method's own, without the type.
        assert_eq!(
            ops[2].signature,
            "async fn login(&self, email: &str, password: &str) -> Result<Login, ClientError>"
        );
        assert_eq!(ops[2].location, "auth.rs:11");
        assert_eq!(
            names(SDK, Selector::Methods("AuthClientBuilder")),
            ["AuthClientBuilder::timeout", "AuthClientBuilder::build"]
        );
    }

    #[test]
    fn methods_selector_errors_name_the_qualified_method() {
        let src = "impl Session {\n    /// Fine.\n    pub fn new() -> Self { todo!() }\n    pub fn clear(&self) {}\n}\n";
        let err = operations("session.rs", src, Selector::Methods("Session"))
            .expect_err("undocumented methods are rejected");
        assert_eq!(err, "session.rs:4: `Session::clear` has no doc comment");
    }

    #[test]
    fn functions_selector_takes_module_level_pub_fns() {
        let src = r#"
            /// Session.
            pub fn require_session(verifier: Verifier) -> RequireSessionLayer { todo!() }
            fn private() {}
            pub(crate) fn crate_only() {}
            #[doc(hidden)]
            pub fn hidden() {}
            impl Verifier {
                /// Not a free function.
                pub fn new(admin: AdminClient) -> Self { todo!() }
            }
            pub trait T {
                /// Not a free function either.
                fn t(&self);
            }
            pub mod inner {
                /// MFA.
                pub async fn require_mfa(verifier: Verifier, max_age: Duration) -> RequireSessionLayer { todo!() }
            }
            #[cfg(test)]
            mod tests { pub fn t() {} }
        "#;
        assert_eq!(
            names(src, Selector::Functions),
            ["require_session", "require_mfa"]
        );
        assert_eq!(names(SDK, Selector::Functions), ["helper"]);
    }

    #[test]
    fn undocumented_operations_are_errors_with_locations() {
        let src = "pub trait T {\n    /// Fine.\n    fn ok(&self);\n\n    fn bare(&self);\n    /// # Returns\n    /// x\n    fn no_summary(&self);\n}\n";
        let err = operations("crates/x/src/t.rs", src, Selector::Traits)
            .expect_err("undocumented methods are rejected");
        assert_eq!(
            err,
            "crates/x/src/t.rs:5: `bare` has no doc comment\ncrates/x/src/t.rs:8: the doc comment of `no_summary` has no summary before its first `#` heading"
        );
    }

    #[test]
    fn parse_errors_name_the_file() {
        let err = operations("a.rs", "pub trait {", Selector::Traits)
            .expect_err("invalid Rust is rejected");
        assert!(err.starts_with("a.rs:1:"), "{err}");
    }

    #[test]
    fn doc_text_is_unindented() {
        let f: syn::ItemFn =
            syn::parse_str("/// Summary.\n///\n/// ```\n///     indented();\n/// ```\nfn f() {}")
                .expect("fixture parses");
        assert_eq!(doc_text(&f.attrs), "Summary.\n\n```\n    indented();\n```");
    }
}
