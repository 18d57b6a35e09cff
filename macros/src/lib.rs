//! The `#[traced]` attribute of [`datapunk-log`]: runs a function inside a
//! span named after it, with its arguments as the span's fields. Use it
//! through the library (`datapunk_log::traced`); the expansion names
//! `::datapunk_log` paths.
//!
//! ```ignore
//! use datapunk_log::traced;
//!
//! #[traced(skip(db), redact(password))]
//! fn login(db: &Db, user: &str, password: &str) -> Result<Session, LoginError> {
//!     // a span "login" with fields user = "...", password = "[REDACTED]";
//!     // an Err sets its status to Error and records an `exception` event
//!     db.check(user, password)
//! }
//!
//! #[traced(name = "fetch", level = "debug", target = "http")]
//! async fn get(&self, url: &str) -> std::io::Result<Vec<u8>> {
//!     // the span stays current across awaits, on any thread
//!     self.client.get(url).await
//! }
//! ```
//!
//! See [`macro@traced`] for the options, the expansion and the limits.
//!
//! [`datapunk-log`]: https://docs.rs/datapunk-log

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::{ToTokens, quote, quote_spanned};
use syn::meta::ParseNestedMeta;
use syn::spanned::Spanned;
use syn::visit::Visit;
use syn::{
    AttrStyle, Expr, ExprLit, ExprPath, FnArg, Ident, ItemFn, Lit, LitStr, Pat, ReturnType, Type,
    parse_macro_input,
};

/// Runs the function inside a span.
///
/// ```ignore
/// #[datapunk_log::traced]
/// fn charge(card: &str, cents: u64) -> Result<Receipt, PaymentError> { ... }
/// ```
///
/// makes, on each call, the span `charge` (a child of the current span, at
/// INFO, target the module path) with the fields `card` and `cents`, enters
/// it while the body runs, and ends it when the function returns.
///
/// # Options
///
/// `#[traced(name = "...", level = "debug", target = "...", skip(a, b),
/// skip_all, redact(password, token), no_err)]`, in any order:
///
/// - `name = "..."`: the span's name (default: the function's name).
/// - `level = "trace" | "debug" | "info" | "warn" | "error" | "fatal"` (also
///   `level = Level::Debug`): the span's level, for the filter.
/// - `target = "..."`: the span's target (default: the module path).
/// - `skip(a, b)`: leave these arguments out of the fields; `skip_all`:
///   leave all of them out.
/// - `redact(a, b)`: record these as the string `"[REDACTED]"`; the value
///   is never formatted or written.
/// - `err`: accepted for symmetry with `tracing` (errors are always
///   inspected); `no_err`: do not inspect the returned value.
///
/// # Fields
///
/// Every argument whose pattern is a plain name (`x`, `mut x`, `ref x`)
/// becomes a field of that name; `self` and other patterns (tuples,
/// structs, `_`) are left out. A value is recorded, by its type at the call
/// site (in a generic function: by its declared bounds), with
///
/// 1. its `datapunk_log::Value` impl: integers, floats, `bool`, `char`,
///    strings, `Option`s and references of these are typed values;
/// 2. else `Debug`; 3. else `Display`;
/// 4. else `null` (the function still compiles).
///
/// A span has at most 64 fields (`datapunk_log::__private::MAX_FIELDS`).
///
/// # Errors and panics
///
/// When the function returns `Result<T, E>` (any spelling: the check is by
/// type, so `io::Result<T>` and other aliases count) and the value is
/// `Err(e)`, the span's status becomes `Error(e.to_string())` and an
/// `exception` event is recorded (`exception.type`, `exception.message`,
/// `exception.stacktrace` with the source chain), from
///
/// - `E: Error + 'static`, or `E` dereferencing to `dyn Error` (with or
///   without `Send + Sync`: `Box<dyn Error>`, `anyhow::Error`): the error
///   itself, with its sources;
/// - else `E: Display` (or, failing that, `Debug`): its message, with
///   `exception.type` the type's name.
///
/// `Ok` leaves the status unset. A panic in the body sets the status to
/// `Error("panic: <message>")`, records an `exception` event of type
/// `panic`, and unwinds on; the span then ends as the stack unwinds.
///
/// # Expansion
///
/// A sync function keeps its signature; its body becomes, roughly,
///
/// ```ignore
/// let span = ::datapunk_log::span!("charge", card = <card>, cents = <cents>);
/// let ret = call(&span, move || { /* the original body */ }); // entered, catch_unwind
/// inspect(&ret, &span); // Err -> status + exception event
/// ret
/// ```
///
/// so `return` and `?` in the body keep their meaning. An `async fn` keeps
/// its signature too; its body becomes an `async move` block polled inside
/// the span (entered on every poll, so the span stays current across
/// awaits and threads, like `Instrument`), with panics caught in each poll.
/// The span is made when the future is first polled.
///
/// # Limits
///
/// - Not for `const fn`, or functions returning `!`.
/// - The body of a sync function runs in a `move` closure: arguments the
///   body uses are dropped when the body ends, and a body cannot `yield`.
/// - With a return type containing `impl Trait`, the body's `?` has no
///   type to convert to from the signature; annotate inside if needed.
/// - A raw-identifier argument (`r#type`) keeps the `r#` in its field name.
#[proc_macro_attribute]
pub fn traced(attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut args = Args::default();
    let parser = syn::meta::parser(|meta| args.parse(meta));
    parse_macro_input!(attr with parser);
    let func = match syn::parse::<ItemFn>(item) {
        Ok(f) => f,
        Err(e) => {
            let mut err = syn::Error::new(
                Span::call_site(),
                "`#[traced]` goes on a function or method with a body",
            );
            err.combine(e);
            return err.to_compile_error().into();
        }
    };
    match expand(args, func) {
        Ok(ts) => ts.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

#[derive(Default)]
struct Args {
    name: Option<LitStr>,
    level: Option<(Ident, Span)>,
    target: Option<LitStr>,
    skip: Vec<Ident>,
    skip_all: Option<Span>,
    redact: Vec<Ident>,
    no_err: Option<Span>,
    err: Option<Span>,
}

const LEVELS: [&str; 6] = ["Trace", "Debug", "Info", "Warn", "Error", "Fatal"];

fn once<T>(slot: &Option<T>, meta: &ParseNestedMeta<'_>, what: &str) -> syn::Result<()> {
    if slot.is_some() {
        Err(meta.error(format_args!("`{what}` given twice")))
    } else {
        Ok(())
    }
}

fn level_ident(name: &str, span: Span) -> syn::Result<Ident> {
    match LEVELS.iter().find(|l| l.eq_ignore_ascii_case(name)) {
        Some(l) => Ok(Ident::new(l, span)),
        None => Err(syn::Error::new(
            span,
            format_args!(
                "unknown level `{name}`: expected one of trace, debug, info, warn, error, fatal"
            ),
        )),
    }
}

impl Args {
    fn parse(&mut self, meta: ParseNestedMeta<'_>) -> syn::Result<()> {
        let Some(key) = meta.path.get_ident().map(Ident::to_string) else {
            return Err(meta.error("unknown `traced` option"));
        };
        match key.as_str() {
            "name" => {
                once(&self.name, &meta, "name")?;
                let lit: LitStr = meta.value()?.parse()?;
                if lit.value().is_empty() {
                    return Err(syn::Error::new(lit.span(), "the span name is empty"));
                }
                self.name = Some(lit);
            }
            "target" => {
                once(&self.target, &meta, "target")?;
                self.target = Some(meta.value()?.parse()?);
            }
            "level" => {
                once(&self.level, &meta, "level")?;
                let e: Expr = meta.value()?.parse()?;
                let span = e.span();
                let name = match &e {
                    Expr::Lit(ExprLit {
                        lit: Lit::Str(s), ..
                    }) => s.value(),
                    Expr::Path(ExprPath { path, .. }) if path.segments.last().is_some() => path
                        .segments
                        .last()
                        .map(|s| s.ident.to_string())
                        .unwrap_or_default(),
                    _ => {
                        return Err(syn::Error::new(
                            span,
                            "expected a level: \"trace\", \"debug\", \"info\", \"warn\", \"error\" (or Level::Debug, ...)",
                        ));
                    }
                };
                self.level = Some((level_ident(&name, span)?, span));
            }
            "skip" => meta.parse_nested_meta(|m| {
                let id = nested_ident(&m, "skip")?;
                if self.skip.contains(&id) {
                    return Err(m.error(format_args!("`{id}` is skipped twice")));
                }
                self.skip.push(id);
                Ok(())
            })?,
            "redact" => meta.parse_nested_meta(|m| {
                let id = nested_ident(&m, "redact")?;
                if self.redact.contains(&id) {
                    return Err(m.error(format_args!("`{id}` is redacted twice")));
                }
                self.redact.push(id);
                Ok(())
            })?,
            "skip_all" => {
                once(&self.skip_all, &meta, "skip_all")?;
                self.skip_all = Some(meta.path.span());
            }
            "err" => {
                once(&self.err, &meta, "err")?;
                self.err = Some(meta.path.span());
            }
            "no_err" => {
                once(&self.no_err, &meta, "no_err")?;
                self.no_err = Some(meta.path.span());
            }
            _ => {
                return Err(meta.error(format_args!(
                    "unknown `traced` option `{key}`: expected name, level, target, skip, skip_all, redact, err or no_err"
                )));
            }
        }
        Ok(())
    }
}

fn nested_ident(m: &ParseNestedMeta<'_>, what: &str) -> syn::Result<Ident> {
    if !m.input.is_empty() && !m.input.peek(syn::Token![,]) {
        return Err(m.error(format_args!("expected argument names in `{what}(...)`")));
    }
    match m.path.get_ident() {
        Some(id) => Ok(id.clone()),
        None => Err(m.error(format_args!("expected an argument name in `{what}(...)`"))),
    }
}

/// The arguments with a plain-name pattern (not `self`).
fn named_args(func: &ItemFn) -> Vec<Ident> {
    func.sig
        .inputs
        .iter()
        .filter_map(|a| match a {
            FnArg::Receiver(_) => None,
            FnArg::Typed(pt) => match &*pt.pat {
                Pat::Ident(pi) if pi.subpat.is_none() => Some(pi.ident.clone()),
                _ => None,
            },
        })
        .collect()
}

struct HasImplTrait(bool);

impl<'ast> Visit<'ast> for HasImplTrait {
    fn visit_type_impl_trait(&mut self, _: &'ast syn::TypeImplTrait) {
        self.0 = true;
    }
}

fn expand(args: Args, func: ItemFn) -> syn::Result<TokenStream2> {
    let sig = &func.sig;
    if let Some(c) = &sig.constness {
        return Err(syn::Error::new(
            c.span(),
            "`#[traced]` cannot be used on a `const fn`",
        ));
    }
    if let Some(v) = &sig.variadic {
        return Err(syn::Error::new(
            v.span(),
            "`#[traced]` cannot be used on a variadic function",
        ));
    }
    if let (Some(e), Some(_)) = (args.err, args.no_err) {
        return Err(syn::Error::new(
            e,
            "`err` and `no_err` contradict each other",
        ));
    }
    if let ReturnType::Type(_, ty) = &sig.output
        && matches!(**ty, Type::Never(_))
    {
        return Err(syn::Error::new(
            ty.span(),
            "`#[traced]` cannot be used on a function returning `!`",
        ));
    }

    // Check every named argument of the options.
    let named = named_args(&func);
    for id in args.skip.iter().chain(&args.redact) {
        if !named.contains(id) {
            let msg = if id == "self" {
                "`self` is never recorded".to_owned()
            } else {
                format!(
                    "`{id}` is not an argument of `{}` (with a plain-name pattern)",
                    sig.ident
                )
            };
            return Err(syn::Error::new(id.span(), msg));
        }
    }
    if let Some(id) = args.redact.iter().find(|id| args.skip.contains(id)) {
        return Err(syn::Error::new(
            id.span(),
            format_args!("`{id}` is both skipped and redacted"),
        ));
    }

    let dp = quote!(::datapunk_log);
    let traced = quote!(#dp::__private::traced);

    // The span.
    let name = match &args.name {
        Some(n) => n.clone(),
        None => {
            let s = sig.ident.to_string();
            LitStr::new(s.strip_prefix("r#").unwrap_or(&s), sig.ident.span())
        }
    };
    let level = args
        .level
        .as_ref()
        .map(|(l, span)| quote_spanned!(*span=> level: #dp::Level::#l,));
    let target = args.target.as_ref().map(|t| quote!(target: #t,));
    let fields: Vec<TokenStream2> = if args.skip_all.is_some() {
        Vec::new()
    } else {
        named
            .iter()
            .filter(|id| !args.skip.contains(id))
            .map(|id| {
                if args.redact.contains(id) {
                    // The same mask as every other redaction (`Secret`,
                    // redaction by key), without reading the value.
                    quote!(#id = #traced::MASK)
                } else {
                    quote!(#id = (&&&&#traced::Arg(&#id)).__dp_arg())
                }
            })
            .collect()
    };

    let span_var = Ident::new("__dp_span", Span::mixed_site());
    let ret_var = Ident::new("__dp_ret", Span::mixed_site());
    let fake_var = Ident::new("__dp_fake_return", Span::mixed_site());

    let make_span = quote! {
        let #span_var = {
            #[allow(unused_imports)]
            use #traced::{ArgDebug as _, ArgDisplay as _, ArgOther as _, ArgValue as _};
            #dp::span!(#level #target #name #(, #fields)*)
        };
    };

    // The body, with a never-taken `return` of the declared type so that `?`
    // and `return` inside a closure or async block know the type to produce.
    let (outer_attrs, inner_attrs): (Vec<_>, Vec<_>) = func
        .attrs
        .iter()
        .partition(|a| matches!(a.style, AttrStyle::Outer));
    let block = &func.block;
    // The declared return type, unless it holds an `impl Trait` (which
    // cannot be written in a `let`).
    let ret_ty = match &sig.output {
        ReturnType::Type(_, ty) => {
            let mut v = HasImplTrait(false);
            v.visit_type(ty);
            (!v.0).then(|| ty.to_token_stream())
        }
        ReturnType::Default => Some(quote!(())),
    };
    let fake_return = match (&sig.output, &ret_ty) {
        (ReturnType::Type(..), Some(ty)) => Some(quote! {
            #[allow(
                unreachable_code,
                clippy::diverging_sub_expression,
                clippy::empty_loop,
                clippy::let_unit_value,
                clippy::needless_return,
                clippy::unreachable
            )]
            if false {
                let #fake_var: #ty = loop {};
                return #fake_var;
            }
        }),
        _ => None,
    };
    // The type of the returned value, given to the `let` that holds it so
    // that inspecting it never has to guess (a body that only panics).
    let ret_annot = ret_ty.as_ref().map(|ty| quote!(: #ty));
    let ret_annot_async = ret_ty.as_ref().map(|ty| quote!(: (#ty, _)));
    let body = quote!({ #fake_return #block });

    let inspect = if args.no_err.is_some() {
        quote!()
    } else {
        quote! {
            {
                #[allow(unused_imports)]
                use #traced::{
                    RetDebug as _, RetDisplay as _, RetDynError as _, RetDynErrorSendSync as _,
                    RetError as _, RetOther as _,
                };
                (&&&&&&#traced::Ret(&#ret_var)).__dp_ret(&#span_var);
            }
        }
    };

    let run = if sig.asyncness.is_some() {
        quote! {
            let (#ret_var, #span_var) #ret_annot_async =
                #traced::TracedFuture::new(#span_var, async move #body).await;
            #inspect
            #ret_var
        }
    } else {
        quote! {
            #[allow(clippy::let_unit_value)]
            let #ret_var #ret_annot = #traced::call(&#span_var, move || #body);
            #inspect
            #ret_var
        }
    };

    let vis = &func.vis;
    Ok(quote! {
        #(#outer_attrs)*
        #vis #sig {
            #(#inner_attrs)*
            #make_span
            #run
        }
    }
    .into_token_stream())
}
