//! Procedural macros of `wades-guest`: `#[process]`, `#[derive(Inputs)]` and
//! `#[derive(Outputs)]`. See the `wades-guest` crate for how to use them.

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::quote;
use syn::{
    parse_macro_input, spanned::Spanned, Attribute, Data, DeriveInput, Expr, ExprArray, ExprLit,
    Fields, GenericArgument, ItemFn, Lit, PathArguments, Type,
};

/// Marks the function that runs a job and generates the component exports.
///
/// Arguments: `id` (required), `version` (default `"1.0.0"`), `title`,
/// `keywords = [..]`, `job_control = [..]`, and the limits the process asks
/// for: `fuel = N`, `memory = "64 MiB"`, `timeout_ms = N`.
#[proc_macro_attribute]
pub fn process(attr: TokenStream, item: TokenStream) -> TokenStream {
    let func = parse_macro_input!(item as ItemFn);
    let mut args = ProcessArgs::default();
    let parser = syn::meta::parser(|meta| {
        let key = meta
            .path
            .get_ident()
            .map(|i| i.to_string())
            .unwrap_or_default();
        let value: Expr = meta.value()?.parse()?;
        match key.as_str() {
            "id" => args.id = Some(lit_str(&value)?),
            "version" => args.version = Some(lit_str(&value)?),
            "title" => args.title = Some(lit_str(&value)?),
            "keywords" => args.keywords = str_list(&value)?,
            "job_control" => args.job_control = str_list(&value)?,
            "fuel" => args.fuel = Some(lit_u64(&value)?),
            "timeout_ms" => args.timeout_ms = Some(lit_u64(&value)?),
            "memory" => args.memory = Some(byte_size(&value)?),
            _ => return Err(meta.error("unknown argument; expected id, version, title, keywords, job_control, fuel, memory or timeout_ms")),
        }
        Ok(())
    });
    parse_macro_input!(attr with parser);
    let Some(id) = args.id else {
        return syn::Error::new(Span::call_site(), "#[process] needs `id = \"...\"`")
            .to_compile_error()
            .into();
    };
    let docs = Docs::of(&func.attrs);
    let title = opt_str(args.title.or(docs.title.clone()));
    let description = opt_str(docs.description);
    let version = args.version.unwrap_or_else(|| "1.0.0".into());
    let keywords = args.keywords;
    let job_control = args.job_control;
    let fuel = opt_u64(args.fuel);
    let memory = opt_u64(args.memory);
    let timeout = opt_u64(args.timeout_ms);
    let name = &func.sig.ident;
    quote! {
        #func

        #[doc(hidden)]
        pub struct __WadesProcess;

        #[doc(hidden)]
        pub fn __wades_describe() -> ::wades_guest::__private::ProcessDescription {
            ::wades_guest::__private::describe(
                ::wades_guest::__private::ProcessMeta {
                    id: #id,
                    version: #version,
                    title: #title,
                    description: #description,
                    keywords: &[#(#keywords),*],
                    job_control: &[#(#job_control),*],
                    fuel: #fuel,
                    memory_bytes: #memory,
                    timeout_ms: #timeout,
                },
                #name,
            )
        }

        impl ::wades_guest::__private::Guest for __WadesProcess {
            fn describe() -> ::wades_guest::__private::ProcessDescription {
                __wades_describe()
            }
            fn execute(
                inputs: ::std::vec::Vec<::wades_guest::__private::NamedValue>,
            ) -> ::std::result::Result<
                ::std::vec::Vec<::wades_guest::__private::NamedValue>,
                ::wades_guest::bindings::wades::process::types::ProcessError,
            > {
                ::wades_guest::__private::execute(inputs, #name)
            }
        }

        ::wades_guest::bindings::export!(__WadesProcess with_types_in ::wades_guest::bindings);
    }
    .into()
}

/// Derives `wades_guest::Inputs` for a struct of named fields.
#[proc_macro_derive(Inputs, attributes(wades))]
pub fn derive_inputs(item: TokenStream) -> TokenStream {
    let input = parse_macro_input!(item as DeriveInput);
    expand_fields(&input, true)
        .unwrap_or_else(|e| e.to_compile_error())
        .into()
}

/// Derives `wades_guest::Outputs` for a struct of named fields.
#[proc_macro_derive(Outputs, attributes(wades))]
pub fn derive_outputs(item: TokenStream) -> TokenStream {
    let input = parse_macro_input!(item as DeriveInput);
    expand_fields(&input, false)
        .unwrap_or_else(|e| e.to_compile_error())
        .into()
}

#[derive(Default)]
struct ProcessArgs {
    id: Option<String>,
    version: Option<String>,
    title: Option<String>,
    keywords: Vec<String>,
    job_control: Vec<String>,
    fuel: Option<u64>,
    memory: Option<u64>,
    timeout_ms: Option<u64>,
}

#[derive(Default)]
struct FieldArgs {
    id: Option<String>,
    title: Option<String>,
    schema: Option<String>,
    media_types: Vec<String>,
    keywords: Vec<String>,
    min_occurs: Option<u32>,
    max_occurs: Option<Option<u32>>,
}

/// How a field maps to OGC occurrences.
enum Shape<'a> {
    Single(&'a Type),
    Optional(&'a Type),
    Many(&'a Type),
}

fn expand_fields(input: &DeriveInput, inputs: bool) -> syn::Result<TokenStream2> {
    let Data::Struct(data) = &input.data else {
        return Err(syn::Error::new(
            input.span(),
            "only structs with named fields can be derived",
        ));
    };
    let Fields::Named(fields) = &data.fields else {
        return Err(syn::Error::new(
            input.span(),
            "only structs with named fields can be derived",
        ));
    };
    let name = &input.ident;
    let mut describes = Vec::new();
    let mut builds = Vec::new();
    let mut pushes = Vec::new();
    for field in &fields.named {
        let ident = field.ident.as_ref().expect("named field");
        let args = field_args(&field.attrs)?;
        let docs = Docs::of(&field.attrs);
        let shape = shape_of(&field.ty, args.max_occurs.is_some())?;
        let id = args.id.clone().unwrap_or_else(|| ident.to_string());
        let title = opt_str(args.title.clone().or(docs.title.clone()));
        let description = opt_str(docs.description.clone());
        let schema = opt_str(args.schema.clone());
        let media = &args.media_types;
        let keywords = &args.keywords;
        let (inner, min, max) = match shape {
            Shape::Single(t) => (t, args.min_occurs.unwrap_or(1), Some(1)),
            Shape::Optional(t) => (t, 0, Some(1)),
            Shape::Many(t) => (t, args.min_occurs.unwrap_or(1), args.max_occurs.flatten()),
        };
        let max_tokens = match max {
            Some(m) => quote!(::std::option::Option::Some(#m)),
            None => quote!(::std::option::Option::None),
        };
        let meta = quote! {
            ::wades_guest::__private::FieldMeta {
                id: #id,
                title: #title,
                description: #description,
                schema: #schema,
                media_types: &[#(#media),*],
                keywords: &[#(#keywords),*],
                min_occurs: #min,
                max_occurs: #max_tokens,
            }
        };
        if inputs {
            describes.push(quote!(::wades_guest::__private::field_input::<#inner>(#meta)));
            builds.push(match shape {
                Shape::Single(t) => quote!(#ident: bag.required::<#t>(#id)?),
                Shape::Optional(t) => quote!(#ident: bag.optional::<#t>(#id)?),
                Shape::Many(t) => quote!(#ident: bag.many::<#t>(#id, ::wades_guest::__private::Occurs { min: #min, max: #max_tokens })?),
            });
        } else {
            describes.push(quote!(::wades_guest::__private::field_output::<#inner>(#meta)));
            let push = quote!(out.push(::wades_guest::__private::NamedValue {
                id: ::std::string::String::from(#id),
                value: ::wades_guest::ProcessValue::into_value(v),
            }));
            pushes.push(match shape {
                Shape::Single(_) => quote!({ let v = self.#ident; #push; }),
                Shape::Optional(_) => {
                    quote!(if let ::std::option::Option::Some(v) = self.#ident { #push; })
                }
                Shape::Many(_) => quote!(for v in self.#ident { #push; }),
            });
        }
    }
    Ok(if inputs {
        quote! {
            impl ::wades_guest::Inputs for #name {
                fn describe() -> ::std::vec::Vec<::wades_guest::__private::InputDescription> {
                    ::std::vec![#(#describes),*]
                }
                fn from_values(
                    bag: &mut ::wades_guest::__private::ValueBag,
                ) -> ::std::result::Result<Self, ::wades_guest::ProcessError> {
                    ::std::result::Result::Ok(#name { #(#builds),* })
                }
            }
        }
    } else {
        quote! {
            impl ::wades_guest::Outputs for #name {
                fn describe() -> ::std::vec::Vec<::wades_guest::__private::OutputDescription> {
                    ::std::vec![#(#describes),*]
                }
                fn into_values(
                    self,
                    out: &mut ::std::vec::Vec<::wades_guest::__private::NamedValue>,
                ) {
                    #(#pushes)*
                }
            }
        }
    })
}

fn shape_of(ty: &Type, many: bool) -> syn::Result<Shape<'_>> {
    if let Some(inner) = generic_arg(ty, "Option") {
        if many {
            return Err(syn::Error::new(
                ty.span(),
                "use Vec<T> with `max_occurs`, not Option",
            ));
        }
        return Ok(Shape::Optional(inner));
    }
    if many {
        return generic_arg(ty, "Vec")
            .map(Shape::Many)
            .ok_or_else(|| syn::Error::new(ty.span(), "`max_occurs` needs a Vec<T> field"));
    }
    Ok(Shape::Single(ty))
}

fn generic_arg<'a>(ty: &'a Type, wrapper: &str) -> Option<&'a Type> {
    let Type::Path(path) = ty else { return None };
    let last = path.path.segments.last()?;
    if last.ident != wrapper {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    match args.args.first()? {
        GenericArgument::Type(t) => Some(t),
        _ => None,
    }
}

fn field_args(attrs: &[Attribute]) -> syn::Result<FieldArgs> {
    let mut args = FieldArgs::default();
    for attr in attrs.iter().filter(|a| a.path().is_ident("wades")) {
        attr.parse_nested_meta(|meta| {
            let key = meta.path.get_ident().map(|i| i.to_string()).unwrap_or_default();
            let value: Expr = meta.value()?.parse()?;
            match key.as_str() {
                "id" | "rename" => args.id = Some(lit_str(&value)?),
                "title" => args.title = Some(lit_str(&value)?),
                "schema" => {
                    let text = lit_str(&value)?;
                    if let Err(e) = check_json(&text) {
                        return Err(syn::Error::new(value.span(), format!("schema is not JSON: {e}")));
                    }
                    args.schema = Some(text);
                }
                "media_type" => {
                    args.media_types = lit_str(&value)?.split(',').map(|s| s.trim().to_string()).collect()
                }
                "keywords" => args.keywords = str_list(&value)?,
                "min_occurs" => args.min_occurs = Some(lit_u64(&value)? as u32),
                "max_occurs" => {
                    args.max_occurs = Some(match &value {
                        Expr::Lit(ExprLit { lit: Lit::Str(s), .. }) if s.value() == "unbounded" => None,
                        _ => Some(lit_u64(&value)? as u32),
                    })
                }
                _ => return Err(meta.error("unknown attribute; expected id, title, schema, media_type, keywords, min_occurs or max_occurs")),
            }
            Ok(())
        })?;
    }
    Ok(args)
}

fn check_json(text: &str) -> Result<(), String> {
    serde_json::from_str::<serde_json::Value>(text)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Title and description from `///` comments.
struct Docs {
    title: Option<String>,
    description: Option<String>,
}

impl Docs {
    fn of(attrs: &[Attribute]) -> Docs {
        let lines: Vec<String> = attrs
            .iter()
            .filter(|a| a.path().is_ident("doc"))
            .filter_map(|a| match &a.meta {
                syn::Meta::NameValue(nv) => match &nv.value {
                    Expr::Lit(ExprLit {
                        lit: Lit::Str(s), ..
                    }) => Some(s.value()),
                    _ => None,
                },
                _ => None,
            })
            .map(|l| l.strip_prefix(' ').unwrap_or(&l).trim_end().to_string())
            .collect();
        let text = lines.join("\n").trim().to_string();
        if text.is_empty() {
            return Docs {
                title: None,
                description: None,
            };
        }
        match text.split_once("\n\n") {
            Some((first, rest)) => Docs {
                title: Some(first.replace('\n', " ")),
                description: Some(rest.trim().to_string()),
            },
            None => Docs {
                title: Some(text.replace('\n', " ")),
                description: Some(text),
            },
        }
    }
}

fn lit_str(e: &Expr) -> syn::Result<String> {
    match e {
        Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        }) => Ok(s.value()),
        _ => Err(syn::Error::new(e.span(), "expected a string literal")),
    }
}

fn lit_u64(e: &Expr) -> syn::Result<u64> {
    match e {
        Expr::Lit(ExprLit {
            lit: Lit::Int(i), ..
        }) => i.base10_parse(),
        _ => Err(syn::Error::new(e.span(), "expected an integer literal")),
    }
}

fn str_list(e: &Expr) -> syn::Result<Vec<String>> {
    match e {
        Expr::Array(ExprArray { elems, .. }) => elems.iter().map(lit_str).collect(),
        _ => Err(syn::Error::new(
            e.span(),
            "expected a list of strings, e.g. [\"a\", \"b\"]",
        )),
    }
}

/// `"64 MiB"`, `"1GiB"`, `"500 KiB"` or a plain number of bytes.
fn byte_size(e: &Expr) -> syn::Result<u64> {
    if let Ok(n) = lit_u64(e) {
        return Ok(n);
    }
    let text = lit_str(e)?;
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| syn::Error::new(e.span(), "expected e.g. \"64 MiB\""))?;
    let mult = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        _ => return Err(syn::Error::new(e.span(), "unit must be B, KiB, MiB or GiB")),
    };
    Ok(n * mult)
}

fn opt_str(s: Option<String>) -> TokenStream2 {
    match s {
        Some(s) => quote!(::std::option::Option::Some(#s)),
        None => quote!(::std::option::Option::None),
    }
}

fn opt_u64(n: Option<u64>) -> TokenStream2 {
    match n {
        Some(n) => quote!(::std::option::Option::Some(#n)),
        None => quote!(::std::option::Option::None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expr(s: &str) -> Expr {
        syn::parse_str(s).unwrap()
    }

    #[test]
    fn byte_sizes_read_like_people_write_them() {
        assert_eq!(byte_size(&expr(r#""64 MiB""#)).unwrap(), 64 << 20);
        assert_eq!(byte_size(&expr(r#""1GiB""#)).unwrap(), 1 << 30);
        assert_eq!(byte_size(&expr("4096")).unwrap(), 4096);
        assert!(byte_size(&expr(r#""12 parsecs""#)).is_err());
    }

    #[test]
    fn docs_split_into_title_and_description() {
        let item: syn::ItemFn =
            syn::parse_str("/// Title here\n///\n/// Longer text\n/// on two lines.\nfn f() {}")
                .unwrap();
        let d = Docs::of(&item.attrs);
        assert_eq!(d.title.as_deref(), Some("Title here"));
        assert_eq!(d.description.as_deref(), Some("Longer text\non two lines."));
        let item: syn::ItemFn = syn::parse_str("/// Just one line.\nfn f() {}").unwrap();
        let d = Docs::of(&item.attrs);
        assert_eq!(d.title, d.description);
    }
}
