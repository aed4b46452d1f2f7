//! The one error type of the crate.

/// Why reading, writing or combining rasters failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The TIFF decoder or encoder failed (malformed file, unsupported
    /// compression, I/O inside the codec, ...).
    #[error("TIFF: {0}")]
    Tiff(#[from] tiff::TiffError),
    /// Reading or writing the underlying stream failed.
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    /// A valid TIFF that this crate does not handle, e.g. several bands or
    /// sub-byte samples.
    #[error("unsupported raster: {0}")]
    Unsupported(String),
    /// Two rasters that must be combined pixel by pixel differ in size.
    #[error("rasters differ in size: {a_width}x{a_height} and {b_width}x{b_height}")]
    SizeMismatch {
        /// Width of the first raster.
        a_width: u32,
        /// Height of the first raster.
        a_height: u32,
        /// Width of the second raster.
        b_width: u32,
        /// Height of the second raster.
        b_height: u32,
    },
    /// Two georeferenced rasters of the same size lie on different grids, so
    /// their pixels do not cover the same ground.
    #[error("rasters are on different grids: pixel scale, tiepoints or transformation differ")]
    GridMismatch,
    /// The pixel buffer does not hold `width * height` values.
    #[error("a {width}x{height} raster needs {expected} pixels, got {actual}")]
    DataLength {
        /// Declared width.
        width: u32,
        /// Declared height.
        height: u32,
        /// `width * height`.
        expected: u64,
        /// Length of the buffer.
        actual: usize,
    },
    /// A crop's area of interest does not overlap the raster, or is not
    /// a box.
    #[error("area of interest: {0}")]
    Aoi(String),
}

impl Error {
    /// Whether the fault lies in the data given (not a TIFF, truncated,
    /// unsupported layout, mismatched rasters) rather than in the storage
    /// or the caller's code.
    ///
    /// Processes use it to tell "fix your inputs" from "the job failed".
    pub fn is_bad_input(&self) -> bool {
        match self {
            Error::Io(_) => false,
            // The decoder reports a file that ends early as an I/O error.
            Error::Tiff(tiff::TiffError::IoError(e)) => {
                e.kind() == std::io::ErrorKind::UnexpectedEof
            }
            Error::Tiff(tiff::TiffError::UsageError(_)) => false,
            Error::Tiff(_) => true,
            Error::Unsupported(_)
            | Error::SizeMismatch { .. }
            | Error::GridMismatch
            | Error::Aoi(_) => true,
            Error::DataLength { .. } => false,
        }
    }
}
