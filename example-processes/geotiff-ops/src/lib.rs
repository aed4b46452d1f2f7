//! The raster compute of the ESA "water-bodies" application package: read a
//! band from a GeoTIFF, crop it to an area of interest, take the normalized
//! difference of two bands (NDWI from green and near infrared), and
//! threshold it with Otsu's method into a water
//! mask, writing GeoTIFFs that keep the input's georeferencing.
//!
//! The crate is plain Rust with no wasm-specific code: the wades example
//! processes run it as WebAssembly guests and the benchmarks run the very same
//! code natively, so any difference they measure is the runtime's.
//!
//! ```
//! use geotiff_ops::{normalized_difference, otsu_mask, read_band, synthetic};
//! use std::io::Cursor;
//!
//! let (green, nir) = synthetic::water_scene(64, 64);
//! let green = read_band(Cursor::new(synthetic::encode_u16(&green))).unwrap();
//! let nir = read_band(Cursor::new(synthetic::encode_u16(&nir))).unwrap();
//! let ndwi = normalized_difference(&green, &nir).unwrap();
//! let (threshold, mask) = otsu_mask(&ndwi);
//! // Between the land (about -0.6) and water (about 0.6) NDWI.
//! assert!(threshold > -0.62 && threshold < 0.53);
//! assert_eq!(mask.len(), 64 * 64);
//! ```

#![warn(missing_docs)]

mod crop;
mod error;
mod geotiff;
mod ops;
pub mod synthetic;

pub use crop::{crop, Aoi};
pub use error::Error;
pub use geotiff::{read_band, write_f32, write_u16, write_u8, GeoTags};
pub use ops::{normalized_difference, otsu_mask, otsu_threshold, OTSU_BINS};

/// One band of a raster, as `f32` whatever the file's sample type, with the
/// georeferencing it came with.
///
/// `f32` holds every u8/u16/i16 value exactly and is what the reference
/// implementation computes in, so one pixel type serves every step.
#[derive(Debug, Clone, PartialEq)]
pub struct Raster {
    /// Pixels per row.
    pub width: u32,
    /// Number of rows.
    pub height: u32,
    /// Row-major pixels, `width * height` of them.
    pub data: Vec<f32>,
    /// GeoTIFF tags carried from input to output.
    pub geo: GeoTags,
}

impl Raster {
    /// A raster over `data`, checking that it holds `width * height` pixels.
    pub fn new(width: u32, height: u32, data: Vec<f32>, geo: GeoTags) -> Result<Raster, Error> {
        let raster = Raster {
            width,
            height,
            data,
            geo,
        };
        raster.check_len()?;
        Ok(raster)
    }

    /// Fails unless `data` holds exactly `width * height` pixels; the fields
    /// are public, so every consumer re-checks instead of trusting them.
    pub(crate) fn check_len(&self) -> Result<(), Error> {
        check_len(self.width, self.height, self.data.len())
    }
}

pub(crate) fn check_len(width: u32, height: u32, actual: usize) -> Result<(), Error> {
    // u64 because a 65536x65536 header overflows usize on wasm32.
    let expected = u64::from(width) * u64::from(height);
    if actual as u64 == expected {
        Ok(())
    } else {
        Err(Error::DataLength {
            width,
            height,
            expected,
            actual,
        })
    }
}
