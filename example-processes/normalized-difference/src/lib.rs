//! `normalized-difference`: the "normalized difference" step of the ESA
//! water-bodies application package, as a wades process.
//!
//! The compute lives in `geotiff-ops`, shared with the native benchmark, so
//! this crate is only the process contract around it.

use geotiff_ops::Raster;
use std::io::Write;
use wades_guest::{process, progress, File, Inputs, Outputs, ProcessError};

const GEOTIFF: &str = "image/tiff; application=geotiff";

/// Inputs of the normalized difference.
#[derive(Inputs)]
pub struct Bands {
    /// First band
    ///
    /// Single-band GeoTIFF, the minuend: green for NDWI, near infrared for
    /// NDVI. Its georeferencing is copied to the result.
    #[wades(media_type = "image/tiff; application=geotiff")]
    a: File,
    /// Second band
    ///
    /// Single-band GeoTIFF of the same size and grid as `a`, the subtrahend:
    /// near infrared for NDWI, red for NDVI.
    #[wades(media_type = "image/tiff; application=geotiff")]
    b: File,
}

/// Output of the normalized difference.
#[derive(Outputs)]
pub struct NormalizedDifference {
    /// Normalized difference
    ///
    /// Float32 GeoTIFF of (a - b) / (a + b), from -1 to 1, NaN where
    /// a + b = 0, on the grid of `a`.
    #[wades(media_type = "image/tiff; application=geotiff")]
    nd: File,
}

/// Normalized difference
///
/// Computes (a - b) / (a + b) per pixel of two single-band GeoTIFFs of the
/// same size, e.g. the NDWI from the green and near-infrared bands, and
/// writes it as a float32 GeoTIFF with the georeferencing of `a`. Pixels
/// where a + b = 0 (nodata) are NaN.
#[process(
    id = "normalized-difference",
    version = "1.0.0",
    keywords = ["water-bodies", "ndwi", "ndvi", "geotiff", "raster"],
    // Three float rasters of 4096x4096 (a, b, result) take 192 MiB, plus the
    // decoder's buffer and I/O buffers; 1 GiB leaves room for larger scenes.
    memory = "1 GiB"
)]
fn normalized_difference(input: Bands) -> Result<NormalizedDifference, ProcessError> {
    progress(0, "reading band a");
    let a = read(&input.a, "a")?;
    progress(35, "reading band b");
    let b = read(&input.b, "b")?;
    progress(70, "computing the normalized difference");
    let nd = geotiff_ops::normalized_difference(&a, &b).map_err(|e| bad(e, "a and b"))?;
    // Free the inputs before encoding so peak memory stays at three rasters.
    drop((a, b));
    progress(80, "writing nd.tif");
    let output = File::output("nd.tif", GEOTIFF);
    // Each unbuffered write would be a separate WASI call into the host.
    let mut writer = output.writer()?;
    geotiff_ops::write_f32(&mut writer, &nd)?;
    writer.flush()?;
    progress(100, "done");
    Ok(NormalizedDifference { nd: output })
}

/// Reads one staged band. The whole file is read at once: the TIFF decoder
/// seeks to every strip, and each seek would empty a read buffer.
fn read(file: &File, id: &str) -> Result<Raster, ProcessError> {
    let reader = std::io::Cursor::new(file.read()?);
    geotiff_ops::read_band(reader).map_err(|e| bad(e, &format!("input '{id}'")))
}

/// Blames the caller's data when it is at fault, the job otherwise.
fn bad(e: geotiff_ops::Error, what: &str) -> ProcessError {
    if e.is_bad_input() {
        ProcessError::invalid_input(format!("{what}: {e}"))
    } else {
        ProcessError::failed(format!("{what}: {e}"))
    }
}
