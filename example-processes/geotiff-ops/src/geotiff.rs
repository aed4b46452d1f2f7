//! Single-band GeoTIFF reading and writing.
//!
//! Only the six GeoTIFF tags are interpreted as georeferencing; they are kept
//! verbatim rather than parsed into a CRS, because the steps never reproject:
//! an output lies on exactly the grid of its input.

use crate::{check_len, Error, Raster};
use std::io::{Read, Seek, Write};
use tiff::decoder::{Decoder, DecodingResult, Limits};
use tiff::encoder::{colortype, DirectoryEncoder, TiffEncoder, TiffKind, TiffValue};
use tiff::tags::Tag;

/// Largest decoded image `read_band` accepts, in bytes.
///
/// The codec's default of 256 MiB refuses a single float32 Sentinel-2 tile
/// (10980², 482 MB); 1 GiB still stops a forged header from asking for
/// terabytes, and a wasm guest's own memory limit bounds it further.
const MAX_DECODED_BYTES: usize = 1 << 30;

/// The GeoTIFF tags of a raster, copied untouched from input to output.
///
/// `None` means the tag is absent. Outputs of the same size as their input
/// stay on the same grid, so copying is all georeferencing needs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GeoTags {
    /// ModelPixelScaleTag (33550): pixel size in model units, `[sx, sy, sz]`.
    pub pixel_scale: Option<Vec<f64>>,
    /// ModelTiepointTag (33922): `[i, j, k, x, y, z]` per tiepoint.
    pub tiepoints: Option<Vec<f64>>,
    /// ModelTransformationTag (34264): a 4x4 row-major affine matrix, used
    /// instead of scale and tiepoint for rotated grids.
    pub transformation: Option<Vec<f64>>,
    /// GeoKeyDirectoryTag (34735): the GeoKeys (CRS, raster type, units).
    pub key_directory: Option<Vec<u16>>,
    /// GeoDoubleParamsTag (34736): double values the GeoKeys point into.
    pub double_params: Option<Vec<f64>>,
    /// GeoAsciiParamsTag (34737): `|`-separated strings the GeoKeys point into.
    pub ascii_params: Option<String>,
}

impl GeoTags {
    /// Whether no GeoTIFF tag is present, i.e. the raster is a plain TIFF.
    pub fn is_empty(&self) -> bool {
        *self == GeoTags::default()
    }

    /// Whether the raster is tied to the ground (has a pixel-to-model mapping).
    pub fn is_georeferenced(&self) -> bool {
        self.pixel_scale.is_some() || self.tiepoints.is_some() || self.transformation.is_some()
    }

    /// Whether two same-sized rasters cover the same ground pixel for pixel.
    ///
    /// A raster without georeferencing matches any grid: there is nothing to
    /// compare, and refusing would break plain TIFFs. The GeoKeys are not
    /// compared since one CRS can be spelled in several ways.
    pub(crate) fn same_grid(&self, other: &GeoTags) -> bool {
        if !self.is_georeferenced() || !other.is_georeferenced() {
            return true;
        }
        self.pixel_scale == other.pixel_scale
            && self.tiepoints == other.tiepoints
            && self.transformation == other.transformation
    }
}

/// Reads the first image of a single-band (Geo)TIFF as `f32` pixels, with its
/// GeoTIFF tags.
///
/// Samples may be 8 to 64-bit integers (signed or not) or 16/32/64-bit
/// floats, in strips or tiles, uncompressed or Deflate/LZW/PackBits
/// compressed. Integers wider than 24 bits and f64 lose precision in `f32`,
/// which is immaterial for reflectances and indices.
///
/// Pass a buffered reader: the decoder issues many small reads and seeks.
pub fn read_band<R: Read + Seek>(reader: R) -> Result<Raster, Error> {
    let mut limits = Limits::default();
    limits.decoding_buffer_size = MAX_DECODED_BYTES;
    let mut decoder = Decoder::new(reader)?.with_limits(limits);
    let (width, height) = decoder.dimensions()?;
    let color = decoder.colortype()?;
    if color.num_samples() != 1 {
        return Err(Error::Unsupported(format!(
            "{} samples per pixel; only single-band rasters are handled",
            color.num_samples()
        )));
    }
    let geo = read_geo(&mut decoder)?;
    let data = to_f32(decoder.read_image()?);
    if check_len(width, height, data.len()).is_err() {
        // Sub-byte samples come back packed several to a byte.
        return Err(Error::Unsupported(format!(
            "{} bits per sample",
            color.bit_depth()
        )));
    }
    Ok(Raster {
        width,
        height,
        data,
        geo,
    })
}

fn to_f32(decoded: DecodingResult) -> Vec<f32> {
    // `as` is exact for every type up to 16 bits and rounds to nearest above.
    macro_rules! convert {
        ($v:expr) => {
            $v.into_iter().map(|x| x as f32).collect()
        };
    }
    match decoded {
        DecodingResult::F32(v) => v,
        DecodingResult::U8(v) => convert!(v),
        DecodingResult::U16(v) => convert!(v),
        DecodingResult::U32(v) => convert!(v),
        DecodingResult::U64(v) => convert!(v),
        DecodingResult::I8(v) => convert!(v),
        DecodingResult::I16(v) => convert!(v),
        DecodingResult::I32(v) => convert!(v),
        DecodingResult::I64(v) => convert!(v),
        DecodingResult::F64(v) => convert!(v),
        DecodingResult::F16(v) => v.into_iter().map(|x| x.to_f32()).collect(),
    }
}

fn read_geo<R: Read + Seek>(decoder: &mut Decoder<R>) -> Result<GeoTags, Error> {
    let mut doubles = |tag| -> Result<Option<Vec<f64>>, Error> {
        Ok(decoder
            .find_tag(tag)?
            .map(|v| v.into_f64_vec())
            .transpose()?)
    };
    let pixel_scale = doubles(Tag::ModelPixelScaleTag)?;
    let tiepoints = doubles(Tag::ModelTiepointTag)?;
    let transformation = doubles(Tag::ModelTransformationTag)?;
    let double_params = doubles(Tag::GeoDoubleParamsTag)?;
    let key_directory = decoder
        .find_tag(Tag::GeoKeyDirectoryTag)?
        .map(|v| v.into_u16_vec())
        .transpose()?;
    let ascii_params = decoder
        .find_tag(Tag::GeoAsciiParamsTag)?
        .map(|v| v.into_string())
        .transpose()?;
    Ok(GeoTags {
        pixel_scale,
        tiepoints,
        transformation,
        key_directory,
        double_params,
        ascii_params,
    })
}

fn write_geo<W: Write + Seek, K: TiffKind>(
    dir: &mut DirectoryEncoder<'_, W, K>,
    geo: &GeoTags,
) -> Result<(), Error> {
    // An empty list would be a zero-count entry, which readers reject.
    fn list<W: Write + Seek, K: TiffKind, T>(
        dir: &mut DirectoryEncoder<'_, W, K>,
        tag: Tag,
        values: &Option<Vec<T>>,
    ) -> Result<(), Error>
    where
        [T]: TiffValue,
    {
        match values {
            Some(v) if !v.is_empty() => Ok(dir.write_tag(tag, &v[..])?),
            _ => Ok(()),
        }
    }
    list(dir, Tag::ModelPixelScaleTag, &geo.pixel_scale)?;
    list(dir, Tag::ModelTiepointTag, &geo.tiepoints)?;
    list(dir, Tag::ModelTransformationTag, &geo.transformation)?;
    list(dir, Tag::GeoKeyDirectoryTag, &geo.key_directory)?;
    list(dir, Tag::GeoDoubleParamsTag, &geo.double_params)?;
    if let Some(ascii) = &geo.ascii_params {
        dir.write_tag(Tag::GeoAsciiParamsTag, ascii.as_str())?;
    }
    Ok(())
}

/// Writes one band of samples as an uncompressed, stripped TIFF plus the
/// GeoTIFF tags.
///
/// Uncompressed because outputs are intermediate products read once by the
/// next step, and compressing would dominate the run time that the
/// wasm-vs-native benchmark means to measure.
fn write_band<W, C>(
    writer: W,
    width: u32,
    height: u32,
    data: &[C::Inner],
    geo: &GeoTags,
) -> Result<(), Error>
where
    W: Write + Seek,
    C: colortype::ColorType,
    [C::Inner]: TiffValue,
{
    check_len(width, height, data.len())?;
    let mut encoder = TiffEncoder::new(writer)?;
    let mut image = encoder.new_image::<C>(width, height)?;
    write_geo(image.encoder(), geo)?;
    image.write_data(data)?;
    Ok(())
}

/// Writes `raster` as a single-band float32 GeoTIFF with its GeoTIFF tags.
///
/// NaN pixels are written as NaN. Pass a buffered writer and flush it
/// afterwards: this does not flush.
pub fn write_f32<W: Write + Seek>(writer: W, raster: &Raster) -> Result<(), Error> {
    write_band::<W, colortype::Gray32Float>(
        writer,
        raster.width,
        raster.height,
        &raster.data,
        &raster.geo,
    )
}

/// Writes `raster` as a single-band u16 GeoTIFF with its GeoTIFF tags.
///
/// Values are rounded to the nearest integer and clamped to 0..=65535; NaN
/// becomes 0. Suits reflectance bands, which EO products store as u16.
pub fn write_u16<W: Write + Seek>(writer: W, raster: &Raster) -> Result<(), Error> {
    // `as` saturates and maps NaN to 0, which is the clamping documented above.
    let data: Vec<u16> = raster.data.iter().map(|&v| v.round() as u16).collect();
    write_band::<W, colortype::Gray16>(writer, raster.width, raster.height, &data, &raster.geo)
}

/// Writes `data` (`width * height` row-major bytes) as a single-band u8
/// GeoTIFF with the GeoTIFF tags `geo`, e.g. a 0/1 mask on its source's grid.
pub fn write_u8<W: Write + Seek>(
    writer: W,
    width: u32,
    height: u32,
    data: &[u8],
    geo: &GeoTags,
) -> Result<(), Error> {
    write_band::<W, colortype::Gray8>(writer, width, height, data, geo)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;
    use tiff::encoder::colortype::ColorType;

    fn all_tags() -> GeoTags {
        GeoTags {
            pixel_scale: Some(vec![10.0, 10.0, 0.0]),
            tiepoints: Some(vec![0.0, 0.0, 0.0, 399960.0, 5000040.0, 0.0]),
            transformation: Some((0..16).map(f64::from).collect()),
            key_directory: Some(vec![1, 1, 0, 2, 1024, 0, 1, 1, 3072, 0, 1, 32633]),
            double_params: Some(vec![6378137.0, 298.257223563]),
            ascii_params: Some("WGS 84 / UTM zone 33N|".into()),
        }
    }

    fn encode<C: ColorType>(width: u32, height: u32, data: &[C::Inner]) -> Vec<u8>
    where
        [C::Inner]: TiffValue,
    {
        let mut out = Cursor::new(Vec::new());
        write_band::<_, C>(&mut out, width, height, data, &all_tags()).unwrap();
        out.into_inner()
    }

    #[test]
    fn f32_round_trip_keeps_pixels_and_geo_tags() {
        let data: Vec<f32> = (0..35)
            .map(|i| i as f32 * 0.25 - 3.0)
            .chain([f32::NAN])
            .collect();
        let raster = Raster::new(6, 6, data, all_tags()).unwrap();
        let mut out = Cursor::new(Vec::new());
        write_f32(&mut out, &raster).unwrap();
        let back = read_band(Cursor::new(out.into_inner())).unwrap();
        assert_eq!((back.width, back.height), (6, 6));
        assert_eq!(back.geo, all_tags());
        assert_eq!(back.data[..35], raster.data[..35]);
        assert!(back.data[35].is_nan());
    }

    #[test]
    fn u8_and_u16_round_trip() {
        let mut out = Cursor::new(Vec::new());
        write_u8(&mut out, 3, 2, &[0, 1, 255, 7, 0, 1], &all_tags()).unwrap();
        let back = read_band(Cursor::new(out.into_inner())).unwrap();
        assert_eq!(back.data, [0.0, 1.0, 255.0, 7.0, 0.0, 1.0]);
        assert_eq!(back.geo, all_tags());

        let raster =
            Raster::new(2, 2, vec![1.4, 70000.0, -5.0, f32::NAN], GeoTags::default()).unwrap();
        let mut out = Cursor::new(Vec::new());
        write_u16(&mut out, &raster).unwrap();
        let back = read_band(Cursor::new(out.into_inner())).unwrap();
        assert_eq!(back.data, [1.0, 65535.0, 0.0, 0.0]);
        assert!(back.geo.is_empty());
    }

    #[test]
    fn reads_every_sample_type() {
        let expect = [0.0, 1.0, 2.0, 100.0];
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("u8", encode::<colortype::Gray8>(2, 2, &[0, 1, 2, 100])),
            ("u16", encode::<colortype::Gray16>(2, 2, &[0, 1, 2, 100])),
            ("i16", encode::<colortype::GrayI16>(2, 2, &[0, 1, 2, 100])),
            ("u32", encode::<colortype::Gray32>(2, 2, &[0, 1, 2, 100])),
            ("i32", encode::<colortype::GrayI32>(2, 2, &[0, 1, 2, 100])),
            (
                "f64",
                encode::<colortype::Gray64Float>(2, 2, &[0.0, 1.0, 2.0, 100.0]),
            ),
        ];
        for (name, bytes) in cases {
            let r = read_band(Cursor::new(bytes)).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(r.data, expect, "{name}");
            assert_eq!(r.geo, all_tags(), "{name}");
        }
        let negative = encode::<colortype::GrayI16>(1, 2, &[-32768, -1]);
        assert_eq!(
            read_band(Cursor::new(negative)).unwrap().data,
            [-32768.0, -1.0]
        );
    }

    /// A 40x24 u16 image in 16x16 tiles, the last column and row of tiles
    /// padded, as COGs are laid out.
    #[test]
    fn reads_tiled_layout() {
        let (width, height, tile) = (40u32, 24u32, 16u32);
        let pixel = |x: u32, y: u32| (y * 1000 + x) as u16;
        let mut out = Cursor::new(Vec::new());
        let mut encoder = TiffEncoder::new(&mut out).unwrap();
        let mut dir = encoder.image_directory().unwrap();
        let (mut offsets, mut counts) = (Vec::new(), Vec::new());
        for ty in 0..height.div_ceil(tile) {
            for tx in 0..width.div_ceil(tile) {
                let mut block = vec![0u16; (tile * tile) as usize];
                for y in 0..tile {
                    for x in 0..tile {
                        let (gx, gy) = (tx * tile + x, ty * tile + y);
                        if gx < width && gy < height {
                            block[(y * tile + x) as usize] = pixel(gx, gy);
                        }
                    }
                }
                offsets.push(dir.write_data(&block[..]).unwrap() as u32);
                counts.push(tile * tile * 2);
            }
        }
        dir.write_tag(Tag::ImageWidth, width).unwrap();
        dir.write_tag(Tag::ImageLength, height).unwrap();
        dir.write_tag(Tag::BitsPerSample, 16u16).unwrap();
        dir.write_tag(Tag::Compression, 1u16).unwrap();
        dir.write_tag(Tag::PhotometricInterpretation, 1u16).unwrap();
        dir.write_tag(Tag::SamplesPerPixel, 1u16).unwrap();
        dir.write_tag(Tag::SampleFormat, 1u16).unwrap();
        dir.write_tag(Tag::TileWidth, tile).unwrap();
        dir.write_tag(Tag::TileLength, tile).unwrap();
        dir.write_tag(Tag::TileOffsets, &offsets[..]).unwrap();
        dir.write_tag(Tag::TileByteCounts, &counts[..]).unwrap();
        write_geo(&mut dir, &all_tags()).unwrap();
        dir.finish().unwrap();

        let r = read_band(Cursor::new(out.into_inner())).unwrap();
        assert_eq!((r.width, r.height), (width, height));
        assert_eq!(r.geo, all_tags());
        for y in 0..height {
            for x in 0..width {
                assert_eq!(
                    r.data[(y * width + x) as usize],
                    f32::from(pixel(x, y)),
                    "({x}, {y})"
                );
            }
        }
    }

    #[test]
    fn rejects_multiband_and_garbage() {
        let mut rgb = Cursor::new(Vec::new());
        TiffEncoder::new(&mut rgb)
            .unwrap()
            .write_image::<colortype::RGB8>(1, 1, &[1, 2, 3])
            .unwrap();
        let err = read_band(Cursor::new(rgb.into_inner())).unwrap_err();
        assert!(matches!(err, Error::Unsupported(_)), "{err}");
        assert!(err.is_bad_input());

        let err = read_band(Cursor::new(b"not a tiff at all".to_vec())).unwrap_err();
        assert!(matches!(err, Error::Tiff(_)), "{err}");
        assert!(err.is_bad_input());

        let mut truncated = encode::<colortype::Gray16>(64, 64, &[7; 64 * 64]);
        truncated.truncate(truncated.len() / 2);
        assert!(read_band(Cursor::new(truncated))
            .unwrap_err()
            .is_bad_input());
    }

    #[test]
    fn writers_check_the_buffer_length() {
        let err =
            write_u8(Cursor::new(Vec::new()), 3, 3, &[0; 8], &GeoTags::default()).unwrap_err();
        assert!(
            matches!(
                err,
                Error::DataLength {
                    expected: 9,
                    actual: 8,
                    ..
                }
            ),
            "{err}"
        );
        let bad = Raster {
            width: 2,
            height: 2,
            data: vec![0.0; 3],
            geo: GeoTags::default(),
        };
        assert!(write_f32(Cursor::new(Vec::new()), &bad).is_err());
    }
}
