//! Parsing and compile-time checking of `#[fnshield::handler(...)]` arguments.

use proc_macro2::Span;
use syn::ext::IdentExt as _;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{bracketed, Expr, LitBool, LitStr, Path, Token};

/// The destination grammar, shared with the runtime parser (the `fnshield-dest` crate), so an
/// allowlist entry the macro accepts is one `fnshield` accepts at cold start.
use fnshield_dest as dest;

mod kw {
    syn::custom_keyword!(mode);
    syn::custom_keyword!(outbound);
    syn::custom_keyword!(tmp);
    syn::custom_keyword!(child_process);
    syn::custom_keyword!(read_handler);
    syn::custom_keyword!(allow_hosts);
    syn::custom_keyword!(allow_tmp);
    syn::custom_keyword!(allow_exec);
    syn::custom_keyword!(config);
    syn::custom_keyword!(schema);
    syn::custom_keyword!(envelope);
    syn::custom_keyword!(response_schema);
    syn::custom_keyword!(wipe_tmp);
    syn::custom_keyword!(require_enforcement);
    syn::custom_keyword!(init);
    syn::custom_keyword!(tracing);
}

/// Every option, in the order error messages list them.
pub(crate) const OPTIONS: &str = "mode, outbound, tmp, child_process, read_handler, \
allow_hosts, allow_tmp, allow_exec, config, schema, envelope, response_schema, wipe_tmp, \
require_enforcement, init, tracing, crate";

/// The envelope names `fnshield::validate::Envelope` accepts (besides `/json/pointer`s).
const ENVELOPES: &[&str] = &[
    "none",
    "auto",
    "api_gateway_v1",
    "api_gateway_v2",
    "api_gateway_websocket",
    "alb",
    "function_url",
    "vpc_lattice",
    "vpc_lattice_v2",
    "sqs",
    "sns",
    "sns_sqs",
    "eventbridge",
    "cloudwatch_events_scheduled",
    "kinesis",
    "kinesis_firehose",
    "cloudwatch_logs",
    "dynamodb_streams",
    "kafka",
    "bedrock_agent",
    "s3_sqs",
    "s3_sns_sqs",
    "s3_eventbridge_sqs",
    "s3_firehose",
];

/// Which builder method a mode option calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ModeKey {
    All,
    Outbound,
    Tmp,
    Child,
    ReadHandler,
}

impl ModeKey {
    /// The option's name, as written in the attribute.
    pub(crate) fn option(self) -> &'static str {
        match self {
            ModeKey::All => "mode",
            ModeKey::Outbound => "outbound",
            ModeKey::Tmp => "tmp",
            ModeKey::Child => "child_process",
            ModeKey::ReadHandler => "read_handler",
        }
    }
}

/// A checked mode literal: `"block"`, `"alert"` or `"allow"`.
#[derive(Clone)]
pub(crate) struct ModeLit {
    pub(crate) key: ModeKey,
    /// `Block`, `Alert` or `Allow`: the `fnshield::Mode` variant.
    pub(crate) variant: &'static str,
    pub(crate) span: Span,
}

/// A list of checked string literals.
#[derive(Clone, Default)]
pub(crate) struct StrList {
    pub(crate) values: Vec<LitStr>,
}

/// The parsed, checked arguments.
#[derive(Default)]
pub(crate) struct Args {
    /// Mode options in the order `mode` first, then the per-policy ones (so they win).
    pub(crate) modes: Vec<ModeLit>,
    pub(crate) allow_hosts: Option<StrList>,
    pub(crate) allow_tmp: Option<StrList>,
    pub(crate) allow_exec: Option<StrList>,
    pub(crate) config: Option<LitStr>,
    /// Schema files, checked to exist, as full paths (written relative to `CARGO_MANIFEST_DIR`
    /// or absolute) spanned at the literal the user wrote.
    pub(crate) schema: Option<LitStr>,
    pub(crate) envelope: Option<LitStr>,
    pub(crate) response_schema: Option<LitStr>,
    pub(crate) wipe_tmp: Option<LitBool>,
    pub(crate) require_enforcement: Option<LitBool>,
    /// The path of the `async fn() -> Result<State, E>`.
    pub(crate) init: Option<Path>,
    pub(crate) tracing: Option<LitBool>,
    /// The path of the `fnshield` crate (`crate = "..."`).
    pub(crate) krate: Option<Path>,
    /// Which options were given, with the span of their first occurrence.
    seen: Vec<(&'static str, Span)>,
}

impl Args {
    /// The `fnshield` crate path to use in generated code.
    pub(crate) fn krate(&self) -> Path {
        self.krate
            .clone()
            .unwrap_or_else(|| syn::parse_quote!(::fnshield))
    }

    /// Record an option; a second occurrence is an error at the second key.
    fn first(&mut self, name: &'static str, span: Span) -> syn::Result<()> {
        if let Some((_, first)) = self.seen.iter().find(|(n, _)| *n == name) {
            let mut e = syn::Error::new(
                span,
                format!("duplicate option `{name}`; give each option at most once"),
            );
            e.combine(syn::Error::new(
                *first,
                format!("`{name}` first given here"),
            ));
            return Err(e);
        }
        self.seen.push((name, span));
        Ok(())
    }
}

impl Parse for Args {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut args = Args::default();
        // Every bad option is reported in one build: an error is kept, the rest of that
        // option is skipped up to the next top-level comma, and parsing goes on.
        let mut errors: Option<syn::Error> = None;
        let mut keep = |e: syn::Error| match &mut errors {
            Some(all) => all.combine(e),
            None => errors = Some(e),
        };
        while !input.is_empty() {
            if let Err(e) = args.parse_one(input) {
                keep(e);
                skip_to_comma(input)?;
            }
            if input.is_empty() {
                break;
            }
            if let Err(e) = input.parse::<Token![,]>() {
                keep(e);
                skip_to_comma(input)?;
                if input.peek(Token![,]) {
                    input.parse::<Token![,]>()?;
                }
            }
        }
        if let Some(e) = errors {
            return Err(e);
        }
        // `mode` sets every policy; the per-policy modes must come after it to win.
        args.modes.sort_by_key(|m| m.key != ModeKey::All);
        Ok(args)
    }
}

impl Args {
    fn parse_one(&mut self, input: ParseStream<'_>) -> syn::Result<()> {
        let la = input.lookahead1();
        macro_rules! mode_opt {
            ($kw:ident, $key:expr) => {
                if la.peek(kw::$kw) {
                    let k: kw::$kw = input.parse()?;
                    self.first($key.option(), k.span)?;
                    input.parse::<Token![=]>()?;
                    let lit: LitStr = input.parse()?;
                    let variant = check_mode(&lit)?;
                    self.modes.push(ModeLit {
                        key: $key,
                        variant,
                        span: lit.span(),
                    });
                    return Ok(());
                }
            };
        }
        mode_opt!(mode, ModeKey::All);
        mode_opt!(outbound, ModeKey::Outbound);
        mode_opt!(tmp, ModeKey::Tmp);
        mode_opt!(child_process, ModeKey::Child);
        mode_opt!(read_handler, ModeKey::ReadHandler);

        macro_rules! simple {
            ($kw:ident, $field:ident, $parse:expr) => {
                if la.peek(kw::$kw) {
                    let k: kw::$kw = input.parse()?;
                    self.first(stringify!($kw), k.span)?;
                    input.parse::<Token![=]>()?;
                    #[allow(clippy::redundant_closure_call)]
                    let v: syn::Result<_> = ($parse)(input);
                    self.$field = Some(v?);
                    return Ok(());
                }
            };
        }
        simple!(allow_hosts, allow_hosts, |i| str_list(i, check_destination));
        simple!(allow_tmp, allow_tmp, |i| str_list(i, |l: &LitStr| {
            check_absolute(l, "allow_tmp", "/tmp/cache")
        }));
        simple!(allow_exec, allow_exec, |i| str_list(i, |l: &LitStr| {
            check_absolute(l, "allow_exec", "/usr/bin/convert")
        }));
        simple!(config, config, |i: ParseStream<'_>| {
            let l: LitStr = i.parse()?;
            if l.value().is_empty() {
                return Err(syn::Error::new(
                    l.span(),
                    "`config` names the policy file, e.g. \"fnshield.toml\" (relative to $LAMBDA_TASK_ROOT)",
                ));
            }
            Ok(l)
        });
        simple!(schema, schema, |i: ParseStream<'_>| schema_file(
            i, "schema"
        ));
        simple!(response_schema, response_schema, |i: ParseStream<'_>| {
            schema_file(i, "response_schema")
        });
        simple!(envelope, envelope, |i: ParseStream<'_>| {
            let l: LitStr = i.parse()?;
            check_envelope(&l)?;
            Ok(l)
        });
        simple!(wipe_tmp, wipe_tmp, |i: ParseStream<'_>| i
            .parse::<LitBool>());
        simple!(tracing, tracing, |i: ParseStream<'_>| i.parse::<LitBool>());
        simple!(init, init, |i: ParseStream<'_>| {
            let e: Expr = i.parse()?;
            match e {
                Expr::Path(p) if p.qself.is_none() => Ok(p.path),
                other => Err(syn::Error::new_spanned(
                    other,
                    "`init` takes the path of an `async fn() -> Result<State, E>`, \
                     e.g. `init = make_state` (no call parentheses, no closure)",
                )),
            }
        });

        if la.peek(kw::require_enforcement) {
            let k: kw::require_enforcement = input.parse()?;
            self.first("require_enforcement", k.span)?;
            // A bare flag means `= true`.
            let v = if input.peek(Token![=]) {
                input.parse::<Token![=]>()?;
                input.parse::<LitBool>()?
            } else {
                LitBool::new(true, k.span)
            };
            self.require_enforcement = Some(v);
            return Ok(());
        }
        if la.peek(Token![crate]) {
            let k: Token![crate] = input.parse()?;
            self.first("crate", k.span)?;
            input.parse::<Token![=]>()?;
            let l: LitStr = input.parse()?;
            let p = l.parse::<Path>().map_err(|_| {
                syn::Error::new(
                    l.span(),
                    format!(
                        "`crate` takes the path of the fnshield crate, e.g. \"::my_fnshield\"; `{}` is not a path",
                        l.value()
                    ),
                )
            })?;
            self.krate = Some(p);
            return Ok(());
        }
        // Not a known option: name the valid ones.
        if input.peek(syn::Ident::peek_any) {
            let id = input.call(syn::Ident::parse_any)?;
            return Err(syn::Error::new(
                id.span(),
                format!("unknown option `{id}`; valid options are: {OPTIONS}"),
            ));
        }
        let mut e = la.error();
        e.combine(syn::Error::new(
            input.span(),
            format!("valid options are: {OPTIONS}"),
        ));
        Err(e)
    }
}

/// Skip token trees up to (not including) the next top-level `,` or the end. Brackets and
/// parentheses are one token tree each, so a comma inside a list does not stop the skip.
fn skip_to_comma(input: ParseStream<'_>) -> syn::Result<()> {
    input.step(|cursor| {
        let mut rest = *cursor;
        while let Some((tt, next)) = rest.token_tree() {
            if let proc_macro2::TokenTree::Punct(p) = &tt {
                if p.as_char() == ',' {
                    return Ok(((), rest));
                }
            }
            rest = next;
        }
        Ok(((), rest))
    })
}

fn str_list(
    input: ParseStream<'_>,
    check: impl Fn(&LitStr) -> syn::Result<()>,
) -> syn::Result<StrList> {
    let content;
    bracketed!(content in input);
    let items = Punctuated::<LitStr, Token![,]>::parse_terminated(&content)?;
    let mut errors: Option<syn::Error> = None;
    for l in &items {
        if let Err(e) = check(l) {
            match &mut errors {
                Some(all) => all.combine(e),
                None => errors = Some(e),
            }
        }
    }
    match errors {
        Some(e) => Err(e),
        None => Ok(StrList {
            values: items.into_iter().collect(),
        }),
    }
}

fn check_mode(lit: &LitStr) -> syn::Result<&'static str> {
    match lit.value().as_str() {
        "block" => Ok("Block"),
        "alert" => Ok("Alert"),
        "allow" => Ok("Allow"),
        other => Err(syn::Error::new(
            lit.span(),
            format!("unknown mode `{other}`; expected \"block\", \"alert\" or \"allow\""),
        )),
    }
}

fn check_destination(lit: &LitStr) -> syn::Result<()> {
    let v = lit.value();
    v.parse::<dest::Destination>().map(drop).map_err(|reason| {
        syn::Error::new(
            lit.span(),
            format!(
                "invalid destination `{v}`: {reason}; expected a CIDR (`10.0.0.0/8`), an address \
                 (`192.0.2.7`, `[2001:db8::1]`), a host name (`api.example.com`) or a wildcard \
                 (`*.example.com`), each with an optional `:port` or `:low-high`"
            ),
        )
    })
}

fn check_absolute(lit: &LitStr, option: &str, example: &str) -> syn::Result<()> {
    let v = lit.value();
    if v.starts_with('/') {
        return Ok(());
    }
    Err(syn::Error::new(
        lit.span(),
        format!("`{option}` entries must be absolute paths (start with `/`, e.g. \"{example}\"); `{v}` is relative"),
    ))
}

/// The schema is embedded at compile time, so the file must exist now. Relative paths are
/// relative to the crate's `CARGO_MANIFEST_DIR`. Returns the full path, spanned as written.
fn schema_file(input: ParseStream<'_>, option: &str) -> syn::Result<LitStr> {
    let lit: LitStr = input.parse()?;
    let v = lit.value();
    let path = std::path::Path::new(&v);
    let full = if path.is_absolute() {
        path.to_owned()
    } else {
        match std::env::var_os("CARGO_MANIFEST_DIR") {
            Some(dir) => std::path::Path::new(&dir).join(path),
            None => path.to_owned(),
        }
    };
    if full.is_file() {
        return Ok(LitStr::new(&full.display().to_string(), lit.span()));
    }
    Err(syn::Error::new(
        lit.span(),
        format!(
            "`{option}` file `{}` does not exist; the path is relative to the crate directory \
             (CARGO_MANIFEST_DIR) and the schema is embedded in the binary at compile time",
            full.display()
        ),
    ))
}

fn check_envelope(lit: &LitStr) -> syn::Result<()> {
    let v = lit.value();
    if ENVELOPES.contains(&v.as_str()) {
        return Ok(());
    }
    if let Some(ptr) = v.strip_prefix('/') {
        let b = ptr.as_bytes();
        let bad_tilde = b
            .iter()
            .enumerate()
            .any(|(i, c)| *c == b'~' && !matches!(b.get(i + 1), Some(b'0' | b'1')));
        if !bad_tilde {
            return Ok(());
        }
        return Err(syn::Error::new(
            lit.span(),
            format!("JSON Pointer envelope `{v}`: `~` must be followed by `0` (for `~`) or `1` (for `/`)"),
        ));
    }
    Err(syn::Error::new(
        lit.span(),
        format!(
            "unknown envelope `{v}`; expected one of {} or a JSON Pointer such as \"/detail\"",
            ENVELOPES
                .iter()
                .map(|e| format!("\"{e}\""))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> syn::Result<Args> {
        syn::parse_str::<Args>(s)
    }

    #[test]
    fn every_option_parses() {
        let a = parse(
            r#"outbound = "alert", mode = "block", tmp = "allow", child_process = "block",
               read_handler = "alert", allow_hosts = ["10.0.0.0/8", "*.example.com:443"],
               allow_tmp = ["/tmp/cache"], allow_exec = ["/bin/true"], config = "p.toml",
               envelope = "sqs", wipe_tmp = false, require_enforcement, init = crate::make,
               tracing = false, crate = "::fns""#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        // `mode` sorts first so that the per-policy modes override it.
        assert_eq!(a.modes[0].key, ModeKey::All);
        assert_eq!(a.modes.len(), 5);
        assert_eq!(a.allow_hosts.unwrap().values.len(), 2);
        assert!(a.require_enforcement.unwrap().value);
        assert!(!a.tracing.unwrap().value);
        let k = a.krate.unwrap();
        assert_eq!(quote::quote!(#k).to_string(), ":: fns");
    }

    #[test]
    fn bad_values_name_the_fix() {
        let cases = [
            (
                "mode = \"blok\"",
                "expected \"block\", \"alert\" or \"allow\"",
            ),
            (
                "allow_hosts = [\"10.0.0.0/33\"]",
                "prefix /33 is longer than 32 bits",
            ),
            ("allow_hosts = [\"host:70000\"]", "port `70000`"),
            ("allow_tmp = [\"cache\"]", "must be absolute"),
            ("envelope = \"sqs2\"", "\"cloudwatch_logs\""),
            ("envelope = \"/a~2\"", "`~` must be followed"),
            ("schema = \"no/such/file.json\"", "does not exist"),
            ("init = make()", "no call parentheses"),
            ("foo = 1", "unknown option `foo`; valid options are: mode,"),
            (
                "mode = \"block\", mode = \"alert\"",
                "duplicate option `mode`",
            ),
            ("crate = \"1x\"", "is not a path"),
        ];
        for (src, want) in cases {
            let e = match parse(src) {
                Ok(_) => panic!("{src} should fail"),
                Err(e) => e.to_string(),
            };
            assert!(e.contains(want), "{src}: {e}");
        }
    }

    #[test]
    fn every_bad_option_is_reported_at_once() {
        let e = match parse(
            r#"mode = "blok", allow_hosts = ["10.0.0.0/33", "ok.example.com", "h:70000"],
               foo = 1, tmp = "alert", allow_tmp = ["cache"], mode = "alert",
               wipe_tmp = "yes", init = make()"#,
        ) {
            Ok(_) => panic!("should fail"),
            Err(e) => e,
        };
        let all: Vec<String> = e.into_iter().map(|e| e.to_string()).collect();
        let want = [
            "unknown mode `blok`",
            "prefix /33 is longer than 32 bits",
            "port `70000`",
            "unknown option `foo`",
            "must be absolute",
            "duplicate option `mode`",
            "expected boolean literal",
            "no call parentheses",
        ];
        for w in want {
            assert!(
                all.iter().any(|m| m.contains(w)),
                "missing {w:?} in {all:#?}"
            );
        }
    }

    #[test]
    fn schema_paths_are_relative_to_the_crate_and_resolved() {
        let a = parse(r#"schema = "src/lib.rs", response_schema = "Cargo.toml""#).unwrap();
        let dir = env!("CARGO_MANIFEST_DIR");
        assert_eq!(a.schema.unwrap().value(), format!("{dir}/src/lib.rs"));
        assert_eq!(
            a.response_schema.unwrap().value(),
            format!("{dir}/Cargo.toml")
        );
    }

    #[test]
    fn require_enforcement_takes_a_flag_or_a_bool() {
        assert!(
            !parse("require_enforcement = false")
                .unwrap()
                .require_enforcement
                .unwrap()
                .value
        );
        assert!(
            parse("require_enforcement")
                .unwrap()
                .require_enforcement
                .unwrap()
                .value
        );
    }
}
