//! Code generation for `#[fnshield::handler(...)]`.

use crate::attr::{Args, ModeKey};
use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;
use syn::{FnArg, ItemFn, LitStr, ReturnType, Type};

/// Expand the attribute. Never fails: on error the original item comes back with
/// `compile_error!`s, so that IDEs keep resolving the handler.
pub(crate) fn handler(args: TokenStream, item: TokenStream) -> TokenStream {
    let func: ItemFn = match syn::parse2(item.clone()) {
        Ok(f) => f,
        Err(_) => {
            let e = syn::Error::new(
                Span::call_site(),
                "`#[fnshield::handler]` goes on an `async fn` handler",
            );
            return with_errors(item, e, false);
        }
    };
    let args = syn::parse::Parser::parse2(<Args as syn::parse::Parse>::parse, args);
    let sig = check_signature(&func, args.as_ref().ok());
    let is_main = func.sig.ident == "main";
    match (args, sig) {
        (Ok(args), Ok(stateful)) => generate(&func, &args, stateful),
        (Err(mut e), Err(e2)) => {
            e.combine(e2);
            with_errors(item, e, !is_main)
        }
        (Err(e), _) | (_, Err(e)) => with_errors(item, e, !is_main),
    }
}

/// The original item, the errors and (so that a binary does not also fail with "`main`
/// function not found") an empty `main`.
fn with_errors(item: TokenStream, e: syn::Error, stub_main: bool) -> TokenStream {
    let errors = e.to_compile_error();
    let main = stub_main.then(|| {
        quote!(
            fn main() {}
        )
    });
    quote!(#item #errors #main)
}

const SIGNATURES: &str = "`async fn(LambdaEvent<T>) -> Result<R, E>`, or with `init = path`, \
`async fn(&State, LambdaEvent<T>) -> Result<R, E>`";

/// Check what can be checked syntactically. Returns whether the handler takes a state.
/// The event and return types are left to the type checker (aliases are fine).
fn check_signature(func: &ItemFn, args: Option<&Args>) -> syn::Result<bool> {
    let sig = &func.sig;
    let mut errors: Vec<syn::Error> = Vec::new();
    if sig.asyncness.is_none() {
        errors.push(syn::Error::new_spanned(
            sig.fn_token,
            "the handler must be an `async fn`; add `async` before `fn`",
        ));
    }
    if sig.ident == "main" {
        errors.push(syn::Error::new_spanned(
            &sig.ident,
            "the handler must not be called `main`: `#[fnshield::handler]` generates `main`; rename it (e.g. `handler`)",
        ));
    }
    if let Some(c) = &sig.constness {
        errors.push(syn::Error::new_spanned(c, "the handler cannot be `const`"));
    }
    if let Some(u) = &sig.unsafety {
        errors.push(syn::Error::new_spanned(u, "the handler cannot be `unsafe`"));
    }
    if let Some(abi) = &sig.abi {
        errors.push(syn::Error::new_spanned(
            abi,
            "the handler cannot have an `extern` ABI",
        ));
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        errors.push(syn::Error::new_spanned(
            &sig.generics,
            "the handler cannot be generic: `main` must name one concrete event type",
        ));
    }
    if let Some(v) = &sig.variadic {
        errors.push(syn::Error::new_spanned(v, "the handler cannot be variadic"));
    }
    if matches!(sig.output, ReturnType::Default) {
        errors.push(syn::Error::new(
            sig.paren_token.span.close(),
            format!("the handler must return `Result<R, E>`; expected {SIGNATURES}"),
        ));
    }
    let init = args.and_then(|a| a.init.as_ref());
    let n = sig.inputs.len();
    for input in &sig.inputs {
        if let FnArg::Receiver(r) = input {
            errors.push(syn::Error::new_spanned(
                r,
                "the handler must be a free function, not a method; remove `self`",
            ));
        }
    }
    let typed: Vec<&Type> = sig
        .inputs
        .iter()
        .filter_map(|i| match i {
            FnArg::Typed(t) => Some(&*t.ty),
            FnArg::Receiver(_) => None,
        })
        .collect();
    let stateful = n == 2;
    let wrong_count = |errors: &mut Vec<syn::Error>| {
        let msg = format!(
            "the handler takes {n} parameter{}; expected {SIGNATURES}",
            if n == 1 { "" } else { "s" }
        );
        errors.push(if sig.inputs.is_empty() {
            syn::Error::new(sig.paren_token.span.join(), msg)
        } else {
            syn::Error::new_spanned(&sig.inputs, msg)
        });
    };
    match typed.as_slice() {
        [event] => {
            if let Some(init) = init {
                errors.push(syn::Error::new_spanned(
                    init,
                    "`init` builds a state, but the handler takes no `&State` parameter; \
                     write `async fn handler(state: &State, event: LambdaEvent<T>)` or drop `init`",
                ));
            }
            by_value(event, &mut errors);
        }
        [state, event] => {
            match (state, init) {
                (Type::Reference(r), Some(_)) if r.mutability.is_none() => {}
                (Type::Reference(r), None) if r.mutability.is_none() => {
                    errors.push(syn::Error::new_spanned(
                        &sig.inputs[0],
                        "a handler with a state parameter needs `init = path` (an \
                         `async fn() -> Result<State, E>` run once at cold start), or drop the parameter",
                    ))
                }
                (Type::Reference(r), _) => errors.push(syn::Error::new_spanned(
                    r.mutability,
                    "the state is shared by every invocation: take it as `&State`, not `&mut State`",
                )),
                (other, Some(_)) => errors.push(syn::Error::new_spanned(
                    other,
                    "the state parameter must be a shared reference `&State`",
                )),
                (_, None) => wrong_count(&mut errors),
            }
            by_value(event, &mut errors);
        }
        _ if n == typed.len() => wrong_count(&mut errors),
        // A `self` parameter: reported above.
        _ => {}
    }
    let mut errors = errors.into_iter();
    match errors.next() {
        None => Ok(stateful),
        Some(mut first) => {
            for e in errors {
                first.combine(e);
            }
            Err(first)
        }
    }
}

fn by_value(event: &Type, errors: &mut Vec<syn::Error>) {
    if let Type::Reference(r) = event {
        errors.push(syn::Error::new_spanned(
            r,
            "the handler takes the event by value: `LambdaEvent<T>`, not a reference",
        ));
    }
}

fn generate(func: &ItemFn, args: &Args, stateful: bool) -> TokenStream {
    let krate = args.krate();
    let name = &func.sig.ident;

    let mut calls = TokenStream::new();
    for m in &args.modes {
        let method = syn::Ident::new(
            match m.key {
                ModeKey::All => "mode",
                ModeKey::Outbound => "outbound",
                ModeKey::Tmp => "tmp",
                ModeKey::Child => "child_process",
                ModeKey::ReadHandler => "read_handler",
            },
            m.span,
        );
        let variant = syn::Ident::new(m.variant, m.span);
        calls.extend(quote_spanned!(m.span=> .#method(#krate::Mode::#variant)));
    }
    let lists = [
        (&args.allow_hosts, "allow_destination"),
        (&args.allow_tmp, "allow_tmp"),
        (&args.allow_exec, "allow_exec"),
    ];
    for (list, method) in lists {
        let method = syn::Ident::new(method, Span::call_site());
        for v in list.iter().flat_map(|l| &l.values) {
            calls.extend(quote!(.#method(#v)));
        }
    }
    if let Some(c) = &args.config {
        calls.extend(quote!(.config_file(#c)));
    }
    if let Some(v) = validation_table(args, &krate) {
        calls.extend(quote!(.validation(#v)));
    }
    if let Some(b) = &args.wipe_tmp {
        calls.extend(quote!(.wipe_tmp(#b)));
    }
    if let Some(b) = &args.require_enforcement {
        calls.extend(quote!(.require_enforcement(#b)));
    }

    let tracing = args.tracing.as_ref().is_none_or(|b| b.value);
    let init_tracing = tracing.then(|| quote!(#krate::__private::init_tracing();));

    let name_span = name.span();
    let serve = match (&args.init, stateful) {
        (Some(init), true) => {
            // Spanned at `init`, so that a wrong signature is reported there.
            let at_init = respan(krate.to_token_stream(), init.span());
            let get_state = quote_spanned! {init.span()=>
                let __fnshield_state = match #at_init::__private::init(#init).await {
                    ::std::result::Result::Ok(__fnshield_ok) => __fnshield_ok,
                    ::std::result::Result::Err(__fnshield_code) => return __fnshield_code,
                };
            };
            let call = quote_spanned!(name_span=> #name(__fnshield_state, __fnshield_event));
            quote! {
                #get_state
                let __fnshield_handler = #krate::__private::lambda_runtime::service_fn(
                    move |__fnshield_event| #call,
                );
            }
        }
        _ => {
            let handler = quote_spanned!(name_span=> #name);
            quote! {
                let __fnshield_handler = #krate::__private::lambda_runtime::service_fn(#handler);
            }
        }
    };

    // The event type must be the `LambdaEvent` of the lambda_runtime fnshield is built on: a
    // clear error at the type when it comes from another version (else only an opaque E0631).
    let event_check = func.sig.inputs.last().and_then(|a| match a {
        FnArg::Typed(t) => {
            let ty = &t.ty;
            let at = respan(krate.to_token_stream(), ty.span());
            Some(quote_spanned!(ty.span()=> #at::__private::event_type::<#ty>();))
        }
        FnArg::Receiver(_) => None,
    });
    let run = quote_spanned!(name_span=> #krate::run(__fnshield_shield, __fnshield_handler).await);
    let main = quote! {
        /// Generated by `#[fnshield::handler]`: set up tracing, build and install the shield
        /// while this is the only thread, then build the tokio runtime, run `init` (shielded)
        /// and serve invocations through `fnshield::run`.
        fn main() -> ::std::process::ExitCode {
            #event_check
            #init_tracing
            let __fnshield_builder = #krate::Shield::builder() #calls;
            let (__fnshield_shield, __fnshield_runtime) =
                match #krate::__private::start(__fnshield_builder) {
                    ::std::result::Result::Ok(__fnshield_ok) => __fnshield_ok,
                    ::std::result::Result::Err(__fnshield_code) => return __fnshield_code,
                };
            __fnshield_runtime.block_on(async move {
                #serve
                #krate::__private::finish(#run)
            })
        }
    };
    let mut out = func.to_token_stream();
    out.extend(main);
    out
}

/// The `[validation]` table: schemas embedded with `include_str!` (so cargo rebuilds when
/// they change and the binary does not depend on the deployment package layout).
fn validation_table(args: &Args, krate: &syn::Path) -> Option<TokenStream> {
    if args.schema.is_none() && args.envelope.is_none() && args.response_schema.is_none() {
        return None;
    }
    let embed = |key: &str, lit: &LitStr| {
        quote!(__fnshield_table.insert(
            ::std::string::String::from(#key),
            #krate::__private::serde_json::Value::String(::std::string::String::from(
                ::std::include_str!(#lit)
            )),
        );)
    };
    let mut body = TokenStream::new();
    if let Some(s) = &args.schema {
        body.extend(embed("schema_json", s));
    }
    if let Some(s) = &args.response_schema {
        body.extend(embed("response_schema_json", s));
    }
    if let Some(e) = &args.envelope {
        body.extend(quote!(__fnshield_table.insert(
            ::std::string::String::from("envelope"),
            #krate::__private::serde_json::Value::String(::std::string::String::from(#e)),
        );));
    }
    Some(quote!({
        let mut __fnshield_table = #krate::__private::serde_json::Map::new();
        #body
        #krate::__private::serde_json::Value::Object(__fnshield_table)
    }))
}

/// The same tokens, all at `span` (so that errors about a generated call point there).
fn respan(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|mut tt| {
            if let proc_macro2::TokenTree::Group(g) = &tt {
                let mut n = proc_macro2::Group::new(g.delimiter(), respan(g.stream(), span));
                n.set_span(span);
                tt = proc_macro2::TokenTree::Group(n);
            } else {
                tt.set_span(span);
            }
            tt
        })
        .collect()
}
