//! What the derives generate: descriptions from types and docs, and typed
//! inputs from the host's values. These run natively; no wasm needed.

use wades_guest::__private::{NamedValue, ValueBag};
use wades_guest::{BBox, Inputs, Outputs, ProcessError, Value};

/// Inputs with every shape a field can have.
#[derive(Inputs, Debug)]
#[allow(dead_code)]
struct Survey {
    /// Site name
    ///
    /// Where the survey took place.
    site: String,
    /// Depth in metres.
    #[wades(schema = r#"{"type": "number", "minimum": 0}"#)]
    depth: Option<f64>,
    /// Area of interest.
    #[wades(id = "aoi")]
    area: BBox,
    /// Photos of the site.
    #[wades(max_occurs = 3, media_type = "image/png, image/jpeg")]
    photos: Vec<wades_guest::Binary>,
    /// Sample counts, as one JSON array.
    counts: Vec<i64>,
}

/// Outputs, one of them optional.
#[derive(Outputs)]
struct Report {
    /// Summary text.
    summary: String,
    /// Warnings, if any.
    warnings: Option<String>,
}

fn nv(id: &str, value: Value) -> NamedValue {
    NamedValue {
        id: id.into(),
        value,
    }
}

fn bbox() -> Value {
    Value::Bbox(wades_guest::bindings::wades::process::types::Bbox {
        coordinates: vec![0.0, 0.0, 1.0, 1.0],
        crs: None,
    })
}

fn png(byte: u8) -> Value {
    Value::Binary(wades_guest::bindings::wades::process::types::Binary {
        data: vec![byte],
        media_type: Some("image/png".into()),
    })
}

#[test]
fn descriptions_come_from_types_attributes_and_docs() {
    let d = Survey::describe();
    let ids: Vec<_> = d.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(ids, ["site", "depth", "aoi", "photos", "counts"]);

    assert_eq!(d[0].title.as_deref(), Some("Site name"));
    assert_eq!(
        d[0].description.as_deref(),
        Some("Where the survey took place.")
    );
    assert_eq!((d[0].min_occurs, d[0].max_occurs), (1, Some(1)));

    assert_eq!(
        (d[1].min_occurs, d[1].max_occurs),
        (0, Some(1)),
        "Option is optional"
    );
    assert_eq!(
        d[1].schema, r#"{"minimum":0,"type":"number"}"#,
        "schema override"
    );

    let aoi: serde_json::Value = serde_json::from_str(&d[2].schema).unwrap();
    assert_eq!(aoi["format"], "ogc-bbox");

    assert_eq!(
        (d[3].min_occurs, d[3].max_occurs),
        (1, Some(3)),
        "max_occurs makes occurrences"
    );
    let photo: serde_json::Value = serde_json::from_str(&d[3].schema).unwrap();
    assert_eq!(
        photo["contentMediaType"], "image/png",
        "first media type lands in the schema"
    );
    assert_eq!(
        d[3].formats
            .iter()
            .map(|f| f.media_type.as_str())
            .collect::<Vec<_>>(),
        ["image/png", "image/jpeg"]
    );

    let counts: serde_json::Value = serde_json::from_str(&d[4].schema).unwrap();
    assert_eq!(
        counts,
        serde_json::json!({"type": "array", "items": {"type": "integer"}})
    );

    let out = Report::describe();
    assert_eq!(
        out.iter().map(|o| o.id.as_str()).collect::<Vec<_>>(),
        ["summary", "warnings"]
    );
}

#[test]
fn inputs_are_built_from_values_and_checked() {
    let values = vec![
        nv("site", Value::String("Lake Constance".into())),
        nv("aoi", bbox()),
        nv("photos", png(1)),
        nv("photos", png(2)),
        nv("counts", Value::Json("[3, 1, 4]".into())),
    ];
    let s = Survey::from_values(&mut ValueBag::new(values)).unwrap();
    assert_eq!(s.site, "Lake Constance");
    assert_eq!(s.depth, None);
    assert_eq!(
        s.photos.iter().map(|p| p.data[0]).collect::<Vec<_>>(),
        [1, 2]
    );
    assert_eq!(s.counts, [3, 1, 4]);
}

fn error_of(values: Vec<NamedValue>) -> ProcessError {
    Survey::from_values(&mut ValueBag::new(values)).unwrap_err()
}

#[test]
fn wrong_inputs_name_the_input_and_the_problem() {
    let base = || {
        vec![
            nv("site", Value::String("x".into())),
            nv("aoi", bbox()),
            nv("counts", Value::Json("[]".into())),
        ]
    };

    let e = error_of(base());
    assert_eq!(e.code, "invalid-input");
    assert!(
        e.message.contains("'photos' takes 1 to 3 values, got 0"),
        "{e}"
    );

    let mut four = base();
    four.extend((0..4).map(|i| nv("photos", png(i))));
    assert!(error_of(four).message.contains("got 4"));

    let mut wrong_kind = base();
    wrong_kind.push(nv("photos", png(0)));
    wrong_kind[0] = nv("site", Value::Integer(7));
    let e = error_of(wrong_kind);
    assert!(
        e.message
            .contains("input 'site': expected a string, got integer"),
        "{e}"
    );

    let mut twice = base();
    twice.push(nv("photos", png(0)));
    twice.push(nv("site", Value::String("y".into())));
    assert!(error_of(twice)
        .message
        .contains("'site' takes one value, got 2"));

    let bag = ValueBag::new(vec![nv("nope", Value::Boolean(true))]);
    assert!(bag
        .reject_unknown()
        .unwrap_err()
        .message
        .contains("unknown input 'nope'"));
}

#[test]
fn optional_outputs_are_left_out_when_absent() {
    let mut out = Vec::new();
    Report {
        summary: "ok".into(),
        warnings: None,
    }
    .into_values(&mut out);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].id, "summary");
}
