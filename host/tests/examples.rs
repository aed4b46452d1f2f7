//! Every example process, run through the runtime, with its outputs checked.

mod common;

use common::{component, output, runtime, s, Recorder};
use std::time::{Duration, Instant};
use wades::model::{JobControl, NamedValue, Value};
use wades::runtime::{Job, JobDirs, RunError};

#[tokio::test]
async fn hello_world_greets_by_name() {
    let cache = tempfile::tempdir().unwrap();
    let rt = runtime(&cache);
    let p = rt.load(component("hello-world")).await.unwrap();
    let out = rt
        .execute(&p, Job::new(vec![s("name", "World")]))
        .await
        .unwrap();
    assert_eq!(output(&out.outputs, "echo"), &Value::string("Hello World!"));

    let out = rt
        .execute(
            &p,
            Job::new(vec![s("name", "Ada"), s("message", "Nice to meet you.")]),
        )
        .await
        .unwrap();
    assert_eq!(
        output(&out.outputs, "echo"),
        &Value::string("Hello Ada! Nice to meet you.")
    );
    assert!(out.fuel_consumed.unwrap() > 0, "fuel is metered");
}

#[tokio::test]
async fn hello_world_describes_itself_from_its_source() {
    let cache = tempfile::tempdir().unwrap();
    let rt = runtime(&cache);
    let p = rt.load(component("hello-world")).await.unwrap();
    let d = p.description();
    assert_eq!(d.id, "hello-world");
    assert_eq!(d.version, "1.0.0");
    assert_eq!(d.title.as_deref(), Some("Hello World"));
    assert!(
        d.description.as_deref().unwrap().contains("echoes it back"),
        "doc comment becomes the description"
    );
    assert_eq!(d.keywords, ["hello world", "example", "echo"]);
    let name = &d.inputs[0];
    assert_eq!(
        (name.id.as_str(), name.min_occurs, name.max_occurs),
        ("name", 1, Some(1))
    );
    assert_eq!(name.schema, serde_json::json!({"type": "string"}));
    assert_eq!(name.title.as_deref(), Some("Name"));
    assert_eq!(
        (d.inputs[1].id.as_str(), d.inputs[1].min_occurs),
        ("message", 0)
    );
    assert_eq!(d.outputs[0].id, "echo");
    assert!(d.job_control_options.contains(&JobControl::SyncExecute));
    assert!(d.job_control_options.contains(&JobControl::AsyncExecute));
    assert_eq!(
        d.limits.memory_bytes,
        Some(16 << 20),
        "#[process(memory = \"16 MiB\")]"
    );
}

#[tokio::test]
async fn hello_world_without_its_required_input_is_a_guest_error() {
    let cache = tempfile::tempdir().unwrap();
    let rt = runtime(&cache);
    let p = rt.load(component("hello-world")).await.unwrap();
    match rt.execute(&p, Job::new(vec![])).await {
        Err(RunError::Guest { code, message }) => {
            assert_eq!(code, "invalid-input");
            assert!(message.contains("'name' is required"), "{message}");
        }
        other => panic!("expected a guest error, got {other:?}"),
    }
    match rt
        .execute(&p, Job::new(vec![s("name", "x"), s("nickname", "y")]))
        .await
    {
        Err(RunError::Guest { message, .. }) => {
            assert!(message.contains("unknown input 'nickname'"), "{message}")
        }
        other => panic!("expected a guest error, got {other:?}"),
    }
}

fn every_kind() -> Vec<NamedValue> {
    vec![
        s("stringInput", "Cheese & wine ✓"),
        NamedValue::new("numberInput", Value::Number { value: 3.25 }),
        NamedValue::new("integerInput", Value::Integer { value: -42 }),
        NamedValue::new("booleanInput", Value::Boolean { value: true }),
        NamedValue::new(
            "arrayInput",
            Value::Json {
                value: serde_json::json!([1.5, 2.0, 3.0]),
            },
        ),
        NamedValue::new(
            "objectInput",
            Value::Json {
                value: serde_json::json!({"a": [1, {"b": null}], "c": "d"}),
            },
        ),
        NamedValue::new(
            "bboxInput",
            Value::BBox {
                coordinates: vec![51.9, 7.0, 52.0, 7.2],
                crs: Some("http://www.opengis.net/def/crs/EPSG/0/4326".into()),
            },
        ),
        NamedValue::new(
            "binaryInput",
            Value::Binary {
                data: vec![0, 159, 146, 150, 255],
                media_type: Some("application/octet-stream".into()),
            },
        ),
        NamedValue::new(
            "referenceInput",
            Value::Reference {
                href: "https://example.org/data.json".into(),
                media_type: Some("application/json".into()),
            },
        ),
    ]
}

#[tokio::test]
async fn echo_mirrors_every_kind_of_value() {
    let cache = tempfile::tempdir().unwrap();
    let rt = runtime(&cache);
    let p = rt.load(component("echo")).await.unwrap();
    let ids: Vec<_> = p
        .description()
        .inputs
        .iter()
        .map(|i| i.id.as_str())
        .collect();
    let out_ids: Vec<_> = p
        .description()
        .outputs
        .iter()
        .map(|o| o.id.as_str())
        .collect();
    assert_eq!(ids, out_ids, "outputs mirror inputs");
    assert!(ids.contains(&"pause"));

    let inputs = every_kind();
    let out = rt.execute(&p, Job::new(inputs.clone())).await.unwrap();
    for input in &inputs {
        let got = output(&out.outputs, &input.id);
        match (&input.value, got) {
            // Arrays travel as JSON; numbers may come back as floats.
            (Value::Json { value: a }, Value::Json { value: b }) => {
                assert_eq!(
                    a.to_string().replace(".0", ""),
                    b.to_string().replace(".0", ""),
                    "{}",
                    input.id
                )
            }
            (a, b) => assert_eq!(a, b, "{}", input.id),
        }
    }
    assert_eq!(
        out.outputs.len(),
        inputs.len(),
        "absent inputs give absent outputs"
    );
}

#[tokio::test]
async fn echo_pause_reports_progress_while_it_waits() {
    let cache = tempfile::tempdir().unwrap();
    let rt = runtime(&cache);
    let p = rt.load(component("echo")).await.unwrap();
    let events = Recorder::new();
    let started = Instant::now();
    let job = Job::new(vec![NamedValue::new("pause", Value::Number { value: 0.3 })])
        .with_events(events.clone());
    let out = rt.execute(&p, job).await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(output(&out.outputs, "pause"), &Value::Number { value: 0.3 });
    let progress = events.progress.lock().unwrap().clone();
    assert!(progress.len() >= 3, "progress while pausing: {progress:?}");
    assert!(
        progress.windows(2).all(|w| w[0] <= w[1]),
        "progress only grows: {progress:?}"
    );
}

#[tokio::test]
async fn echo_rejects_a_value_of_the_wrong_kind() {
    let cache = tempfile::tempdir().unwrap();
    let rt = runtime(&cache);
    let p = rt.load(component("echo")).await.unwrap();
    let err = rt
        .execute(&p, Job::new(vec![s("booleanInput", "yes")]))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, RunError::Guest { code, message } if code == "invalid-input" && message.contains("booleanInput")),
        "{err:?}"
    );
}

#[tokio::test]
async fn water_bodies_steps_find_the_lake() {
    let (w, h) = (256, 192);
    let (green, nir) = geotiff_ops::synthetic::water_scene(w, h);
    let job_root = tempfile::tempdir().unwrap();
    let dirs = JobDirs {
        inputs: job_root.path().join("in"),
        outputs: job_root.path().join("out"),
    };
    std::fs::create_dir_all(&dirs.inputs).unwrap();
    std::fs::create_dir_all(&dirs.outputs).unwrap();
    std::fs::write(
        dirs.inputs.join("green.tif"),
        geotiff_ops::synthetic::encode_u16(&green),
    )
    .unwrap();
    std::fs::write(
        dirs.inputs.join("nir.tif"),
        geotiff_ops::synthetic::encode_u16(&nir),
    )
    .unwrap();
    let tiff = Some("image/tiff; application=geotiff".to_string());
    let file = |path: &str| Value::File {
        path: path.into(),
        media_type: tiff.clone(),
    };

    let cache = tempfile::tempdir().unwrap();
    let rt = runtime(&cache);
    let nd = rt.load(component("normalized-difference")).await.unwrap();
    let events = Recorder::new();
    let out = rt
        .execute(
            &nd,
            Job::new(vec![
                NamedValue::new("a", file("/inputs/green.tif")),
                NamedValue::new("b", file("/inputs/nir.tif")),
            ])
            .with_dirs(dirs.clone())
            .with_events(events.clone()),
        )
        .await
        .unwrap();
    let Value::File { path, .. } = output(&out.outputs, "nd") else {
        panic!("nd is a file")
    };
    let nd_host = dirs.host_path(path).unwrap();
    let ndwi =
        geotiff_ops::read_band(std::io::Cursor::new(std::fs::read(&nd_host).unwrap())).unwrap();
    let expected = geotiff_ops::normalized_difference(&green, &nir).unwrap();
    assert_eq!((ndwi.width, ndwi.height), (w, h));
    assert_eq!(
        ndwi.data, expected.data,
        "wasm computes what native code computes"
    );
    assert_eq!(ndwi.geo, green.geo, "georeferencing is carried through");
    assert_eq!(events.progress.lock().unwrap().last(), Some(&100));

    // The second step reads the first one's output, as the workflow would.
    std::fs::copy(&nd_host, dirs.inputs.join("nd.tif")).unwrap();
    let otsu = rt.load(component("otsu")).await.unwrap();
    let out = rt
        .execute(
            &otsu,
            Job::new(vec![NamedValue::new("raster", file("/inputs/nd.tif"))])
                .with_dirs(dirs.clone()),
        )
        .await
        .unwrap();
    let Value::Number { value: threshold } = output(&out.outputs, "threshold") else {
        panic!("threshold is a number")
    };
    let (native_threshold, native_mask) = geotiff_ops::otsu_mask(&expected);
    assert_eq!(
        *threshold, native_threshold as f64,
        "wasm finds the threshold native code finds"
    );
    // Land is about -0.6 and water about +0.6 in this scene.
    assert!(
        -0.65 < *threshold && *threshold < 0.55,
        "threshold {threshold} lies between land and water"
    );
    let Value::File { path, .. } = output(&out.outputs, "mask") else {
        panic!("mask is a file")
    };
    let mask = geotiff_ops::read_band(std::io::Cursor::new(
        std::fs::read(dirs.host_path(path).unwrap()).unwrap(),
    ))
    .unwrap();
    assert_eq!(
        mask.data,
        native_mask.iter().map(|&v| v as f32).collect::<Vec<_>>()
    );
    let water = mask.data.iter().filter(|v| **v > 0.5).count();
    let truth = geotiff_ops::synthetic::water_pixels(w, h);
    let error = (water as f64 - truth as f64).abs() / truth as f64;
    assert!(
        error < 0.02,
        "mask has {water} water pixels, the scene {truth}"
    );
}
