//! A small pretty-printer for function signatures.
//!
//! `quote`'s token printing puts spaces between every token (`Option < & T >`),
//! and `prettyplease` only prints whole items with its own line width, so the
//! reference docs use this printer over `syn` types instead. Anything it does
//! not know falls back to token printing, which is ugly but still correct.

use quote::ToTokens;
use syn::punctuated::Punctuated;
use syn::{
    FnArg, GenericArgument, GenericParam, Generics, Pat, PathArguments, ReturnType, Signature,
    TraitBoundModifier, Type, TypeParamBound, WherePredicate,
};

/// Signatures up to this many characters stay on one line; longer ones get
/// one parameter per line, like rustfmt's default `max_width`.
pub const MAX_WIDTH: usize = 100;

/// Renders `sig` the way callers see it (without visibility or body).
///
/// A method declared as `fn f(..) -> impl Future<Output = T> + Send` is shown
/// as `async fn f(..) -> T`: traits use that form only to add `Send` bounds,
/// and implementors write (and callers use) it as an `async fn`.
pub fn render(sig: &Signature) -> String {
    let mut head = String::new();
    if sig.constness.is_some() {
        head.push_str("const ");
    }
    let future_output = if sig.asyncness.is_none() {
        impl_future_output(&sig.output)
    } else {
        None
    };
    if sig.asyncness.is_some() || future_output.is_some() {
        head.push_str("async ");
    }
    if sig.unsafety.is_some() {
        head.push_str("unsafe ");
    }
    if let Some(abi) = &sig.abi {
        head.push_str("extern ");
        if let Some(name) = &abi.name {
            head.push_str(&name.token().to_string());
            head.push(' ');
        }
    }
    head.push_str("fn ");
    head.push_str(&sig.ident.to_string());
    head.push_str(&generic_params(&sig.generics));

    let mut params: Vec<String> = sig.inputs.iter().map(fn_arg).collect();
    if let Some(variadic) = &sig.variadic {
        params.push(variadic.to_token_stream().to_string());
    }

    let ret = match (&future_output, &sig.output) {
        (Some(ty), _) if is_unit(ty) => String::new(),
        (Some(ty), _) => format!(" -> {}", ty_str(ty)),
        (None, ReturnType::Default) => String::new(),
        (None, ReturnType::Type(_, ty)) => format!(" -> {}", ty_str(ty)),
    };
    let predicates: Vec<String> = sig
        .generics
        .where_clause
        .iter()
        .flat_map(|w| w.predicates.iter())
        .map(where_predicate)
        .collect();

    let one_line = if predicates.is_empty() {
        format!("{head}({}){ret}", params.join(", "))
    } else {
        format!(
            "{head}({}){ret} where {}",
            params.join(", "),
            predicates.join(", ")
        )
    };
    if one_line.chars().count() <= MAX_WIDTH {
        return one_line;
    }

    // rustfmt's layout for signatures that do not fit: one parameter per line
    // with a trailing comma, and the where clause on its own lines.
    let mut out = format!("{head}(\n");
    for param in &params {
        out.push_str("    ");
        out.push_str(param);
        out.push_str(",\n");
    }
    out.push(')');
    out.push_str(&ret);
    if !predicates.is_empty() {
        out.push_str("\nwhere");
        for predicate in &predicates {
            out.push_str("\n    ");
            out.push_str(predicate);
            out.push(',');
        }
    }
    out
}

/// `T` when `output` is `-> impl .. Future<Output = T> ..`.
fn impl_future_output(output: &ReturnType) -> Option<&Type> {
    let ReturnType::Type(_, ty) = output else {
        return None;
    };
    let Type::ImplTrait(imp) = &**ty else {
        return None;
    };
    imp.bounds.iter().find_map(|bound| {
        let TypeParamBound::Trait(tb) = bound else {
            return None;
        };
        let last = tb.path.segments.last()?;
        if last.ident != "Future" {
            return None;
        }
        let PathArguments::AngleBracketed(args) = &last.arguments else {
            return None;
        };
        args.args.iter().find_map(|arg| match arg {
            GenericArgument::AssocType(assoc) if assoc.ident == "Output" => Some(&assoc.ty),
            _ => None,
        })
    })
}

fn is_unit(ty: &Type) -> bool {
    matches!(ty, Type::Tuple(t) if t.elems.is_empty())
}

fn fn_arg(arg: &FnArg) -> String {
    match arg {
        FnArg::Receiver(r) => {
            let mut s = String::new();
            if r.colon_token.is_some() {
                // Explicitly typed receiver such as `self: Box<Self>`.
                s.push_str("self: ");
                s.push_str(&ty_str(&r.ty));
                return s;
            }
            if let Some((_, lifetime)) = &r.reference {
                s.push('&');
                if let Some(lt) = lifetime {
                    s.push_str(&lt.to_string());
                    s.push(' ');
                }
                if r.mutability.is_some() {
                    s.push_str("mut ");
                }
            }
            // `mut self` by value is a binding detail of the body, invisible to
            // callers (rustdoc drops it too).
            s.push_str("self");
            s
        }
        FnArg::Typed(pt) => format!("{}: {}", pat_str(&pt.pat), ty_str(&pt.ty)),
    }
}

fn pat_str(pat: &Pat) -> String {
    match pat {
        // `mut` on a binding is private to the body; rustdoc hides it as well.
        Pat::Ident(p) if p.subpat.is_none() => {
            let by_ref = if p.by_ref.is_some() { "ref " } else { "" };
            format!("{by_ref}{}", p.ident)
        }
        Pat::Wild(_) => "_".to_owned(),
        other => other.to_token_stream().to_string(),
    }
}

/// Renders a type without the token printer's stray spaces.
pub fn ty_str(ty: &Type) -> String {
    match ty {
        Type::Array(a) => format!("[{}; {}]", ty_str(&a.elem), a.len.to_token_stream()),
        Type::BareFn(f) => {
            let mut s = String::new();
            if let Some(bl) = &f.lifetimes {
                s.push_str(&bound_lifetimes(&bl.lifetimes));
            }
            if f.unsafety.is_some() {
                s.push_str("unsafe ");
            }
            if let Some(abi) = &f.abi {
                s.push_str("extern ");
                if let Some(name) = &abi.name {
                    s.push_str(&name.token().to_string());
                    s.push(' ');
                }
            }
            let mut args: Vec<String> = f
                .inputs
                .iter()
                .map(|arg| match &arg.name {
                    Some((name, _)) => format!("{name}: {}", ty_str(&arg.ty)),
                    None => ty_str(&arg.ty),
                })
                .collect();
            if f.variadic.is_some() {
                args.push("...".to_owned());
            }
            s.push_str(&format!("fn({})", args.join(", ")));
            s.push_str(&return_type(&f.output));
            s
        }
        Type::Group(g) => ty_str(&g.elem),
        Type::ImplTrait(i) => format!("impl {}", bounds(&i.bounds)),
        Type::Infer(_) => "_".to_owned(),
        Type::Never(_) => "!".to_owned(),
        Type::Paren(p) => format!("({})", ty_str(&p.elem)),
        Type::Path(p) => match &p.qself {
            None => path_str(&p.path),
            Some(q) => {
                let segs: Vec<String> = p.path.segments.iter().map(segment).collect();
                let (trait_part, rest) = segs.split_at(q.position.min(segs.len()));
                let mut s = format!("<{}", ty_str(&q.ty));
                if !trait_part.is_empty() {
                    let lead = if p.path.leading_colon.is_some() {
                        "::"
                    } else {
                        ""
                    };
                    s.push_str(&format!(" as {lead}{}", trait_part.join("::")));
                }
                s.push('>');
                for seg in rest {
                    s.push_str("::");
                    s.push_str(seg);
                }
                s
            }
        },
        Type::Ptr(p) => {
            let kind = if p.mutability.is_some() {
                "mut"
            } else {
                "const"
            };
            format!("*{kind} {}", ty_str(&p.elem))
        }
        Type::Reference(r) => {
            let mut s = "&".to_owned();
            if let Some(lt) = &r.lifetime {
                s.push_str(&lt.to_string());
                s.push(' ');
            }
            if r.mutability.is_some() {
                s.push_str("mut ");
            }
            s.push_str(&ty_str(&r.elem));
            s
        }
        Type::Slice(s) => format!("[{}]", ty_str(&s.elem)),
        Type::TraitObject(t) => {
            let dyn_kw = if t.dyn_token.is_some() { "dyn " } else { "" };
            format!("{dyn_kw}{}", bounds(&t.bounds))
        }
        Type::Tuple(t) => {
            let elems: Vec<String> = t.elems.iter().map(ty_str).collect();
            if elems.len() == 1 {
                format!("({},)", elems.join(""))
            } else {
                format!("({})", elems.join(", "))
            }
        }
        other => other.to_token_stream().to_string(),
    }
}

fn return_type(output: &ReturnType) -> String {
    match output {
        ReturnType::Default => String::new(),
        ReturnType::Type(_, ty) => format!(" -> {}", ty_str(ty)),
    }
}

fn path_str(path: &syn::Path) -> String {
    let segs: Vec<String> = path.segments.iter().map(segment).collect();
    let lead = if path.leading_colon.is_some() {
        "::"
    } else {
        ""
    };
    format!("{lead}{}", segs.join("::"))
}

fn segment(seg: &syn::PathSegment) -> String {
    let mut s = seg.ident.to_string();
    match &seg.arguments {
        PathArguments::None => {}
        PathArguments::AngleBracketed(a) => {
            if a.colon2_token.is_some() {
                s.push_str("::");
            }
            let args: Vec<String> = a.args.iter().map(generic_arg).collect();
            s.push_str(&format!("<{}>", args.join(", ")));
        }
        PathArguments::Parenthesized(p) => {
            let args: Vec<String> = p.inputs.iter().map(ty_str).collect();
            s.push_str(&format!("({})", args.join(", ")));
            s.push_str(&return_type(&p.output));
        }
    }
    s
}

fn generic_arg(arg: &GenericArgument) -> String {
    match arg {
        GenericArgument::Lifetime(lt) => lt.to_string(),
        GenericArgument::Type(ty) => ty_str(ty),
        GenericArgument::AssocType(a) => {
            let generics = a.generics.as_ref().map(angle_args).unwrap_or_default();
            format!("{}{generics} = {}", a.ident, ty_str(&a.ty))
        }
        GenericArgument::Constraint(c) => {
            let generics = c.generics.as_ref().map(angle_args).unwrap_or_default();
            format!("{}{generics}: {}", c.ident, bounds(&c.bounds))
        }
        other => other.to_token_stream().to_string(),
    }
}

fn angle_args(a: &syn::AngleBracketedGenericArguments) -> String {
    let args: Vec<String> = a.args.iter().map(generic_arg).collect();
    format!("<{}>", args.join(", "))
}

fn bounds<P>(bounds: &Punctuated<TypeParamBound, P>) -> String {
    let parts: Vec<String> = bounds.iter().map(bound).collect();
    parts.join(" + ")
}

fn bound(b: &TypeParamBound) -> String {
    match b {
        TypeParamBound::Trait(t) => {
            let mut s = String::new();
            if let Some(bl) = &t.lifetimes {
                s.push_str(&bound_lifetimes(&bl.lifetimes));
            }
            if matches!(t.modifier, TraitBoundModifier::Maybe(_)) {
                s.push('?');
            }
            s.push_str(&path_str(&t.path));
            if t.paren_token.is_some() {
                format!("({s})")
            } else {
                s
            }
        }
        TypeParamBound::Lifetime(lt) => lt.to_string(),
        TypeParamBound::PreciseCapture(pc) => {
            let params: Vec<String> = pc
                .params
                .iter()
                .map(|p| p.to_token_stream().to_string())
                .collect();
            format!("use<{}>", params.join(", "))
        }
        other => other.to_token_stream().to_string(),
    }
}

/// `for<'a, 'b> ` (with the trailing space).
fn bound_lifetimes<P>(params: &Punctuated<GenericParam, P>) -> String {
    let parts: Vec<String> = params.iter().map(generic_param).collect();
    format!("for<{}> ", parts.join(", "))
}

fn generic_params(generics: &Generics) -> String {
    if generics.params.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = generics.params.iter().map(generic_param).collect();
    format!("<{}>", parts.join(", "))
}

fn generic_param(param: &GenericParam) -> String {
    match param {
        GenericParam::Lifetime(l) => {
            let mut s = l.lifetime.to_string();
            if !l.bounds.is_empty() {
                let bs: Vec<String> = l.bounds.iter().map(ToString::to_string).collect();
                s.push_str(&format!(": {}", bs.join(" + ")));
            }
            s
        }
        GenericParam::Type(t) => {
            let mut s = t.ident.to_string();
            if !t.bounds.is_empty() {
                s.push_str(&format!(": {}", bounds(&t.bounds)));
            }
            if let Some(default) = &t.default {
                s.push_str(&format!(" = {}", ty_str(default)));
            }
            s
        }
        GenericParam::Const(c) => {
            let mut s = format!("const {}: {}", c.ident, ty_str(&c.ty));
            if let Some(default) = &c.default {
                s.push_str(&format!(" = {}", default.to_token_stream()));
            }
            s
        }
    }
}

fn where_predicate(pred: &WherePredicate) -> String {
    match pred {
        WherePredicate::Lifetime(l) => {
            let bs: Vec<String> = l.bounds.iter().map(ToString::to_string).collect();
            format!("{}: {}", l.lifetime, bs.join(" + "))
        }
        WherePredicate::Type(t) => {
            let lifetimes = t
                .lifetimes
                .as_ref()
                .map(|bl| bound_lifetimes(&bl.lifetimes))
                .unwrap_or_default();
            format!(
                "{lifetimes}{}: {}",
                ty_str(&t.bounded_ty),
                bounds(&t.bounds)
            )
        }
        other => other.to_token_stream().to_string(),
    }
}

#[cfg(test)]
#[allow(clippy::expect_used)] // A failed expectation is a failed test.
mod tests {
    use super::*;

    fn sig(src: &str) -> String {
        let item: syn::TraitItemFn = syn::parse_str(src).expect("test source parses");
        render(&item.sig)
    }

    #[test]
    fn references_and_generics_have_no_stray_spaces() {
        assert_eq!(
            sig(
                "async fn create_user(&self, email: &str, hash: Option<&PasswordHash>) -> StoreResult<UserId>;"
            ),
            "async fn create_user(&self, email: &str, hash: Option<&PasswordHash>) -> StoreResult<UserId>"
        );
    }

    #[test]
    fn receivers_and_bindings() {
        assert_eq!(sig("fn a(&mut self);"), "fn a(&mut self)");
        assert_eq!(sig("fn a(&'a self);"), "fn a(&'a self)");
        assert_eq!(sig("fn a(mut self, mut x: u8);"), "fn a(self, x: u8)");
        assert_eq!(
            sig("fn a(self: Box<Self>, _: u8);"),
            "fn a(self: Box<Self>, _: u8)"
        );
    }

    #[test]
    fn impl_future_becomes_async() {
        assert_eq!(
            sig(
                "fn get(&self, id: UserId) -> impl Future<Output = StoreResult<Option<User>>> + Send;"
            ),
            "async fn get(&self, id: UserId) -> StoreResult<Option<User>>"
        );
        assert_eq!(
            sig("fn ping(&self) -> impl std::future::Future<Output = ()> + Send + '_;"),
            "async fn ping(&self)"
        );
        // Other `impl Trait` returns are left alone.
        assert_eq!(
            sig("fn it(&self) -> impl Iterator<Item = &str> + '_;"),
            "fn it(&self) -> impl Iterator<Item = &str> + '_"
        );
    }

    #[test]
    fn assorted_types() {
        assert_eq!(
            sig("fn f<'a, T: AsRef<str> + ?Sized, const N: usize>(x: &'a [T; N], y: (u8,)) -> !;"),
            "fn f<'a, T: AsRef<str> + ?Sized, const N: usize>(x: &'a [T; N], y: (u8,)) -> !"
        );
        assert_eq!(
            sig("fn f(z: *const u8, w: &dyn Fn(&str) -> bool, q: <T as Tr>::Out, s: &[u8]);"),
            "fn f(z: *const u8, w: &dyn Fn(&str) -> bool, q: <T as Tr>::Out, s: &[u8])"
        );
        assert_eq!(
            sig("fn f(cb: for<'a> fn(&'a str) -> &'a str) where T: Clone;"),
            "fn f(cb: for<'a> fn(&'a str) -> &'a str) where T: Clone"
        );
    }

    #[test]
    fn long_signatures_wrap_one_parameter_per_line() {
        assert_eq!(
            sig(
                "async fn record_login_attempt(&self, user_id: UserId, ip_address: Option<IpAddr>, user_agent: Option<&str>, success: bool) -> StoreResult<()> where T: Send;"
            ),
            "async fn record_login_attempt(\n    &self,\n    user_id: UserId,\n    ip_address: Option<IpAddr>,\n    user_agent: Option<&str>,\n    success: bool,\n) -> StoreResult<()>\nwhere\n    T: Send,"
        );
    }
}
