//! Made-up input scenes for tests and benchmarks.
//!
//! Real Sentinel-2 tiles are hundreds of megabytes and cannot be fetched
//! here, so tests and benchmarks generate a scene whose right answer is
//! known: a round lake of radius `min(width, height) / 4` in the middle of
//! land, i.e. a water fraction of π/16 for a square scene. Everything is
//! deterministic, so runs are repeatable and comparable.

use crate::{write_u16, GeoTags, Raster};
use std::io::Cursor;

/// Typical Sentinel-2 L2A reflectances (scaled by 10000) of clear water.
const WATER_GREEN: f32 = 1200.0;
const WATER_NIR: f32 = 300.0;
/// ... and of vegetated land, where NIR dominates.
const LAND_GREEN: f32 = 600.0;
const LAND_NIR: f32 = 2500.0;
/// Noise amplitude: small against the class contrast, large enough that the
/// histogram is not a pair of spikes.
const NOISE: i32 = 50;

/// Green and near-infrared bands of a scene with a disc of water in the
/// middle, as integer-valued `f32` in the u16 range (what [`encode_u16`]
/// writes losslessly).
///
/// The disc (centre of the scene, radius `min(width, height) / 4`, pixels
/// counted by their centres) has green ≈ 1200 and NIR ≈ 300, the land
/// around green ≈ 600 and NIR ≈ 2500, each with ±50 of deterministic noise.
/// Both bands carry the GeoTIFF tags of [`utm33n_geo`].
pub fn water_scene(width: u32, height: u32) -> (Raster, Raster) {
    let radius = width.min(height) as f32 / 4.0;
    let (cx, cy) = (width as f32 / 2.0, height as f32 / 2.0);
    let n = width as usize * height as usize;
    let (mut green, mut nir) = (Vec::with_capacity(n), Vec::with_capacity(n));
    let mut rng = Lcg(0x5eed_1a6e);
    for y in 0..height {
        let dy = y as f32 + 0.5 - cy;
        for x in 0..width {
            let dx = x as f32 + 0.5 - cx;
            let water = dx * dx + dy * dy <= radius * radius;
            let (g, r) = if water {
                (WATER_GREEN, WATER_NIR)
            } else {
                (LAND_GREEN, LAND_NIR)
            };
            green.push(g + rng.noise() as f32);
            nir.push(r + rng.noise() as f32);
        }
    }
    let geo = utm33n_geo();
    (
        Raster {
            width,
            height,
            data: green,
            geo: geo.clone(),
        },
        Raster {
            width,
            height,
            data: nir,
            geo,
        },
    )
}

/// Number of pixels [`water_scene`] marks as water, for checking masks.
pub fn water_pixels(width: u32, height: u32) -> usize {
    let radius = width.min(height) as f32 / 4.0;
    let (cx, cy) = (width as f32 / 2.0, height as f32 / 2.0);
    (0..height)
        .flat_map(|y| (0..width).map(move |x| (x, y)))
        .filter(|&(x, y)| {
            let (dx, dy) = (x as f32 + 0.5 - cx, y as f32 + 0.5 - cy);
            dx * dx + dy * dy <= radius * radius
        })
        .count()
}

/// GeoTIFF tags of a 10 m grid in WGS 84 / UTM zone 33N (EPSG:32633) whose
/// top-left corner is at easting 399960, northing 5000040, the corner of the
/// Sentinel-2 tile 33TUL.
pub fn utm33n_geo() -> GeoTags {
    let citation = "WGS 84 / UTM zone 33N|";
    GeoTags {
        pixel_scale: Some(vec![10.0, 10.0, 0.0]),
        tiepoints: Some(vec![0.0, 0.0, 0.0, 399_960.0, 5_000_040.0, 0.0]),
        transformation: None,
        key_directory: Some(vec![
            // Header: version 1, revision 1.0, 4 keys (sorted by id).
            1,
            1,
            0,
            4,
            // GTModelTypeGeoKey = ModelTypeProjected.
            1024,
            0,
            1,
            1,
            // GTRasterTypeGeoKey = RasterPixelIsArea.
            1025,
            0,
            1,
            1,
            // GTCitationGeoKey: the citation in GeoAsciiParams.
            1026,
            34737,
            citation.len() as u16,
            0,
            // ProjectedCSTypeGeoKey = EPSG:32633.
            3072,
            0,
            1,
            32633,
        ]),
        double_params: None,
        ascii_params: Some(citation.into()),
    }
}

/// `raster` as the bytes of a u16 GeoTIFF, for feeding [`crate::read_band`]
/// or a process from memory.
///
/// # Panics
/// If `raster.data` does not hold `width * height` values or a dimension is
/// 0: this is a test helper, and such a raster is a bug in the test.
pub fn encode_u16(raster: &Raster) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    write_u16(&mut out, raster).expect("encoding a well-formed raster into memory");
    out.into_inner()
}

/// Knuth's MMIX linear congruential generator: deterministic across
/// platforms and enough for noise, without a `rand` dependency.
struct Lcg(u64);

impl Lcg {
    /// An integer in `-NOISE..=NOISE`.
    fn noise(&mut self) -> i32 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        // The high bits of an LCG are the well-mixed ones.
        ((self.0 >> 33) % (2 * NOISE as u64 + 1)) as i32 - NOISE
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{normalized_difference, otsu_mask, read_band};
    use std::f64::consts::PI;

    #[test]
    fn scene_is_deterministic_and_in_u16_range() {
        let (g1, n1) = water_scene(32, 16);
        let (g2, n2) = water_scene(32, 16);
        assert_eq!((g1.clone(), n1.clone()), (g2, n2));
        for v in g1.data.iter().chain(&n1.data) {
            assert!(v.fract() == 0.0 && (0.0..=65535.0).contains(v), "{v}");
        }
        assert_eq!(g1.geo, utm33n_geo());
    }

    #[test]
    fn encoded_scene_reads_back_identically() {
        let (green, _) = water_scene(50, 30);
        let back = read_band(Cursor::new(encode_u16(&green))).unwrap();
        assert_eq!(back, green);
    }

    #[test]
    fn ndwi_and_otsu_find_the_lake() {
        let (width, height) = (256, 256);
        let (green, nir) = water_scene(width, height);
        let green = read_band(Cursor::new(encode_u16(&green))).unwrap();
        let nir = read_band(Cursor::new(encode_u16(&nir))).unwrap();
        let ndwi = normalized_difference(&green, &nir).unwrap();
        let (threshold, mask) = otsu_mask(&ndwi);
        // Between the land mode (600 - 2500) / 3100 and the water mode 0.6.
        assert!(
            threshold > -0.61 && threshold < 0.6,
            "threshold {threshold}"
        );

        let water = mask.iter().filter(|&&m| m == 1).count();
        let fraction = water as f64 / mask.len() as f64;
        assert!(
            (fraction - PI / 16.0).abs() < 0.02,
            "water fraction {fraction}, expected ~{}",
            PI / 16.0
        );
        // The classes do not overlap, so the whole disc is water. The only
        // land marked as water lies in the upper half of the histogram bin
        // whose centre is the threshold (scikit-image's rule, kept on
        // purpose): a handful of pixels right at the threshold.
        let (lake, _) = water_scene(width, height);
        let bin_width = (ndwi.data.iter().cloned().fold(f32::MIN, f32::max)
            - ndwi.data.iter().cloned().fold(f32::MAX, f32::min))
            / crate::OTSU_BINS as f32;
        let mut false_water = 0;
        for (i, &m) in mask.iter().enumerate() {
            let (x, y) = (i as u32 % width, i as u32 / width);
            let in_disc = lake.data[i] > 900.0;
            if in_disc {
                assert_eq!(m, 1, "lake pixel ({x}, {y}) missed");
            } else if m == 1 {
                false_water += 1;
                assert!(
                    ndwi.data[i] - threshold < bin_width / 2.0 + 1e-6,
                    "land pixel ({x}, {y}) far above the threshold"
                );
            }
        }
        assert_eq!(water - false_water, water_pixels(width, height));
        assert!(
            false_water < mask.len() / 1000,
            "{false_water} land pixels marked as water"
        );
    }
}
