//! `crop`: the "crop" step of the ESA water-bodies application package, as
//! a wades process.
//!
//! The compute lives in `geotiff-ops`; this crate is only the process
//! contract around it.

use geotiff_ops::Aoi;
use std::io::Write;
use wades_guest::{process, progress, File, Inputs, Outputs, ProcessError};

const GEOTIFF: &str = "image/tiff; application=geotiff";

/// Inputs of the crop.
#[derive(Inputs)]
pub struct Crop {
    /// Raster
    ///
    /// Single-band, north-up GeoTIFF, e.g. one band of a Sentinel-2 scene.
    #[wades(media_type = "image/tiff; application=geotiff")]
    raster: File,
    /// Area of interest
    ///
    /// `min_x,min_y,max_x,max_y` in the CRS of the raster (the pixels it
    /// touches are kept).
    aoi: String,
    /// CRS of the area of interest
    ///
    /// `EPSG:<code>`; it must be the raster's, as the crop does not
    /// reproject. Absent: the raster's.
    epsg: Option<String>,
}

/// Output of the crop.
#[derive(Outputs)]
pub struct Cropped {
    /// Cropped raster
    ///
    /// The pixels of the raster inside the area of interest, with the same
    /// sample values (as float32) and the georeferencing moved accordingly.
    #[wades(media_type = "image/tiff; application=geotiff")]
    cropped: File,
}

/// Crop
///
/// Cuts a single-band GeoTIFF down to the pixels an area of interest
/// touches, keeping its CRS and pixel size.
#[process(
    id = "crop",
    version = "1.0.0",
    keywords = ["water-bodies", "crop", "geotiff", "raster"],
    // The input and the cropped copy as float32: 2 x 64 MiB for a 4096²
    // band, plus the decoder's buffer.
    memory = "1 GiB"
)]
fn crop(input: Crop) -> Result<Cropped, ProcessError> {
    let aoi = Aoi::parse(&input.aoi, input.epsg.as_deref()).map_err(|e| bad(e, "aoi"))?;
    progress(0, "reading the raster");
    // Read at once: the TIFF decoder seeks to every strip.
    let reader = std::io::Cursor::new(input.raster.read()?);
    let raster = geotiff_ops::read_band(reader).map_err(|e| bad(e, "input 'raster'"))?;
    progress(50, "cropping");
    let cropped = geotiff_ops::crop(&raster, &aoi).map_err(|e| bad(e, "crop"))?;
    drop(raster);
    progress(75, "writing cropped.tif");
    let output = File::output("cropped.tif", GEOTIFF);
    let mut writer = output.writer()?;
    geotiff_ops::write_f32(&mut writer, &cropped)?;
    writer.flush()?;
    progress(100, "done");
    Ok(Cropped { cropped: output })
}

/// Blames the caller's data when it is at fault, the job otherwise.
fn bad(e: geotiff_ops::Error, what: &str) -> ProcessError {
    if e.is_bad_input() {
        ProcessError::invalid_input(format!("{what}: {e}"))
    } else {
        ProcessError::failed(format!("{what}: {e}"))
    }
}
