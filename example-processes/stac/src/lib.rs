//! `stac`: the "STAC" step of the ESA water-bodies application package, as
//! a wades process: the water masks of several scenes become a STAC item
//! collection, each item with its mask as an asset beside it.

use serde_json::{json, Value};
use std::path::Path;
use wades_guest::{process, File, Inputs, Outputs, ProcessError};

const GEOTIFF: &str = "image/tiff; application=geotiff";
/// The folder the catalog is written to, under `/outputs`; CWL tools
/// collect it as a Directory.
const FOLDER: &str = "stac";
const PROJECTION: &str = "https://stac-extensions.github.io/projection/v1.1.0/schema.json";

/// Inputs of the catalog.
#[derive(Inputs)]
pub struct Masks {
    /// Masks
    ///
    /// Single-band GeoTIFF masks, one per scene, e.g. from the otsu process.
    #[wades(
        media_type = "image/tiff; application=geotiff",
        max_occurs = "unbounded"
    )]
    masks: Vec<File>,
}

/// Output of the catalog.
#[derive(Outputs)]
pub struct Catalog {
    /// Item collection
    ///
    /// A STAC item collection (GeoJSON FeatureCollection) with one item per
    /// mask, in `stac/collection.json`; each item's `data` asset is its
    /// mask, at `stac/<item id>/<file name>`.
    #[wades(media_type = "application/geo+json")]
    collection: File,
}

/// STAC catalog
///
/// Publishes water masks as a STAC item collection: one item per mask with
/// its projection (EPSG code, shape, bounding box in that CRS) and the mask
/// as its `data` asset, copied beside the collection.
#[process(
    id = "stac",
    version = "1.0.0",
    keywords = ["water-bodies", "stac", "catalog"],
    memory = "1 GiB"
)]
fn stac(input: Masks) -> Result<Catalog, ProcessError> {
    if input.masks.is_empty() {
        return Err(ProcessError::invalid_input("no mask given"));
    }
    let datetime = now_rfc3339();
    let mut features = Vec::new();
    for (i, mask) in input.masks.iter().enumerate() {
        let id = format!("water-bodies-{}", i + 1);
        let name = mask
            .path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("mask.tif")
            .to_string();
        let bytes = mask.read()?;
        let raster = geotiff_ops::read_band(std::io::Cursor::new(&bytes))
            .map_err(|e| ProcessError::invalid_input(format!("mask {}: {e}", i + 1)))?;
        let dir = Path::new(File::OUTPUTS).join(FOLDER).join(&id);
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join(&name), &bytes)?;
        let mut properties = json!({
            "datetime": datetime,
            "proj:shape": [raster.height, raster.width],
        });
        if let Some(epsg) = raster.geo.epsg() {
            properties["proj:epsg"] = json!(epsg);
        }
        if let Some(bbox) = bbox(&raster) {
            properties["proj:bbox"] = json!(bbox);
        }
        features.push(json!({
            "type": "Feature",
            "stac_version": "1.0.0",
            "stac_extensions": [PROJECTION],
            "id": id,
            // The masks are in a projected CRS and there is no projection
            // library here to give WGS 84 coordinates; STAC allows null.
            "geometry": Value::Null,
            "properties": properties,
            "links": [],
            "assets": {"data": {
                "href": format!("./{id}/{name}"),
                "type": GEOTIFF,
                "title": "Water mask",
                "roles": ["data"],
            }},
        }));
    }
    let collection = json!({"type": "FeatureCollection", "features": features});
    let output = File::output(&format!("{FOLDER}/collection.json"), "application/geo+json");
    output.write(serde_json::to_string_pretty(&collection)?.as_bytes())?;
    Ok(Catalog { collection: output })
}

/// The box a north-up raster covers, in its CRS.
fn bbox(r: &geotiff_ops::Raster) -> Option<[f64; 4]> {
    let (scale, tie) = (r.geo.pixel_scale.as_ref()?, r.geo.tiepoints.as_ref()?);
    let (&[sx, sy, ..], &[i, j, _, x, y, ..]) = (scale.as_slice(), tie.as_slice()) else {
        return None;
    };
    let (left, top) = (x - i * sx, y + j * sy);
    Some([
        left,
        top - f64::from(r.height) * sy,
        left + f64::from(r.width) * sx,
        top,
    ])
}

/// The current UTC time as RFC 3339 (the item's `datetime`).
fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rest) = (secs / 86_400, secs % 86_400);
    // Howard Hinnant's days-to-civil, for days since 1970-01-01.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest / 60 % 60,
        rest % 60
    )
}
