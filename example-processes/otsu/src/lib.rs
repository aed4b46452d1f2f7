//! `otsu`: the "Otsu threshold" step of the ESA water-bodies application
//! package, as a wades process.
//!
//! The compute lives in `geotiff-ops`, shared with the native benchmark, so
//! this crate is only the process contract around it.

use std::io::Write;
use wades_guest::{process, progress, File, Inputs, Outputs, ProcessError};

const GEOTIFF: &str = "image/tiff; application=geotiff";

/// Input of the Otsu threshold.
#[derive(Inputs)]
pub struct Band {
    /// Raster
    ///
    /// Single-band GeoTIFF to threshold, e.g. the NDWI from the
    /// normalized-difference process. NaN and infinite pixels are ignored.
    #[wades(media_type = "image/tiff; application=geotiff")]
    raster: File,
}

/// Outputs of the Otsu threshold.
#[derive(Outputs)]
pub struct Mask {
    /// Mask
    ///
    /// Unsigned byte GeoTIFF on the grid of the input: 1 where the pixel is
    /// above the threshold (water, for an NDWI), 0 elsewhere and on nodata.
    #[wades(media_type = "image/tiff; application=geotiff")]
    mask: File,
    /// Threshold
    ///
    /// The Otsu threshold that was applied, in the units of the input.
    threshold: f64,
}

/// Otsu threshold
///
/// Finds the threshold that best splits the finite values of a single-band
/// GeoTIFF in two classes (Otsu's method on a 256-bin histogram, as
/// scikit-image's threshold_otsu) and writes the binary mask of the pixels
/// above it as an unsigned byte GeoTIFF with the input's georeferencing.
#[process(
    id = "otsu",
    version = "1.0.0",
    keywords = ["water-bodies", "otsu", "threshold", "geotiff", "raster"],
    // A 4096x4096 float raster is 64 MiB and its mask 16 MiB; 1 GiB leaves
    // room for larger scenes and the decoder's buffer.
    memory = "1 GiB"
)]
fn otsu(input: Band) -> Result<Mask, ProcessError> {
    progress(0, "reading the raster");
    // Each small read through WASI is a host call, hence the buffer.
    // Read at once: the TIFF decoder seeks to every strip, and each seek
    // would empty a read buffer.
    let reader = std::io::Cursor::new(input.raster.read()?);
    let raster = geotiff_ops::read_band(reader).map_err(|e| bad(e, "input 'raster'"))?;
    progress(50, "thresholding");
    let (threshold, mask) = geotiff_ops::otsu_mask(&raster);
    if threshold.is_nan() {
        // Like the reference step: a mask of nothing would hide the problem.
        return Err(ProcessError::invalid_input(
            "input 'raster' has no finite value to threshold",
        ));
    }
    wades_guest::info(format!("Otsu threshold: {threshold}"));
    progress(75, "writing otsu.tif");
    let output = File::output("otsu.tif", GEOTIFF);
    let mut writer = output.writer()?;
    geotiff_ops::write_u8(&mut writer, raster.width, raster.height, &mask, &raster.geo)?;
    writer.flush()?;
    progress(100, "done");
    Ok(Mask {
        mask: output,
        threshold: f64::from(threshold),
    })
}

/// Blames the caller's data when it is at fault, the job otherwise.
fn bad(e: geotiff_ops::Error, what: &str) -> ProcessError {
    if e.is_bad_input() {
        ProcessError::invalid_input(format!("{what}: {e}"))
    } else {
        ProcessError::failed(format!("{what}: {e}"))
    }
}
