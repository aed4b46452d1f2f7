//! The two compute steps: normalized difference and Otsu thresholding.
//!
//! Both follow the reference Python steps of the water-bodies package
//! (numpy's `(a - b) / (a + b)` and scikit-image's `threshold_otsu`), so the
//! wasm processes can stand in for them.

use crate::{Error, Raster};

/// Number of histogram bins of [`otsu_threshold`], as in scikit-image.
pub const OTSU_BINS: usize = 256;

/// `(a - b) / (a + b)` per pixel, e.g. NDWI from green (`a`) and near
/// infrared (`b`), or NDVI from near infrared and red.
///
/// Where `a + b == 0` the result is NaN, not ±inf or 0: such pixels are
/// nodata (typically both bands 0 outside the swath), NaN is what numpy gives
/// for `0 / 0`, and [`otsu_threshold`] skips NaN. The output carries `a`'s
/// GeoTIFF tags.
///
/// Fails if the sizes differ or if both rasters are georeferenced on
/// different grids (the reference step also refuses mismatched grids).
pub fn normalized_difference(a: &Raster, b: &Raster) -> Result<Raster, Error> {
    if (a.width, a.height) != (b.width, b.height) {
        return Err(Error::SizeMismatch {
            a_width: a.width,
            a_height: a.height,
            b_width: b.width,
            b_height: b.height,
        });
    }
    a.check_len()?;
    b.check_len()?;
    if !a.geo.same_grid(&b.geo) {
        return Err(Error::GridMismatch);
    }
    // A plain zip-map-collect over two slices: the length is known up front
    // and the branch below becomes a select, so LLVM emits SIMD (SSE/AVX
    // natively, simd128 in wasm when enabled) without unsafe or intrinsics.
    let data = a
        .data
        .iter()
        .zip(&b.data)
        .map(|(&a, &b)| normalized_difference_px(a, b))
        .collect();
    Ok(Raster {
        width: a.width,
        height: a.height,
        data,
        geo: a.geo.clone(),
    })
}

#[inline(always)]
fn normalized_difference_px(a: f32, b: f32) -> f32 {
    let sum = a + b;
    if sum == 0.0 {
        f32::NAN
    } else {
        (a - b) / sum
    }
}

/// Otsu's threshold of the finite values, the same as scikit-image's
/// `threshold_otsu(values[np.isfinite(values)])`.
///
/// Builds a [`OTSU_BINS`]-bin histogram over the finite values' min..max,
/// picks the split that maximizes the between-class variance (the first one
/// on ties), and returns the centre of the last bin of the lower class.
/// NaN and ±inf are ignored. Returns the value itself when all finite values
/// are equal, and NaN when there is no finite value.
///
/// Returning the bin centre rather than its upper edge is scikit-image's
/// choice, kept so that masks match the reference step's pixel for pixel:
/// values in the upper half of that one bin end up above the threshold.
/// With well-separated classes that bin lies in the empty valley between
/// them, so the difference does not show.
pub fn otsu_threshold(values: &[f32]) -> f32 {
    let Some((min, max)) = finite_range(values) else {
        return f32::NAN;
    };
    if min == max {
        return min;
    }
    let hist = histogram(values, min, max);

    // Class means are taken over bin centres, as scikit-image does, so the
    // threshold does not depend on how values spread inside a bin.
    let bin_width = (f64::from(max) - f64::from(min)) / OTSU_BINS as f64;
    let centre = |i: usize| f64::from(min) + (i as f64 + 0.5) * bin_width;
    let total: u64 = hist.iter().sum();
    let total_mass: f64 = hist
        .iter()
        .enumerate()
        .map(|(i, &n)| n as f64 * centre(i))
        .sum();

    let (mut below, mut below_mass) = (0u64, 0.0f64);
    let (mut best_variance, mut best_bin) = (f64::NEG_INFINITY, 0);
    // The last bin cannot end the lower class: the upper one would be empty.
    for (i, &n) in hist.iter().enumerate().take(OTSU_BINS - 1) {
        below += n;
        below_mass += n as f64 * centre(i);
        let above = total - below;
        if below == 0 || above == 0 {
            continue;
        }
        let mean_below = below_mass / below as f64;
        let mean_above = (total_mass - below_mass) / above as f64;
        let variance = below as f64 * above as f64 * (mean_below - mean_above).powi(2);
        // Strict `>` keeps the first maximum, like numpy's argmax.
        if variance > best_variance {
            best_variance = variance;
            best_bin = i;
        }
    }
    centre(best_bin) as f32
}

/// The smallest and largest finite value, if any.
fn finite_range(values: &[f32]) -> Option<(f32, f32)> {
    let (mut min, mut max) = (f32::INFINITY, f32::NEG_INFINITY);
    for &v in values {
        if v.is_finite() {
            min = min.min(v);
            max = max.max(v);
        }
    }
    (min <= max).then_some((min, max))
}

/// Counts of the finite values in [`OTSU_BINS`] equal bins over `min..=max`;
/// `max` falls in the last bin, as with numpy's `histogram`.
fn histogram(values: &[f32], min: f32, max: f32) -> [u64; OTSU_BINS] {
    let scale = OTSU_BINS as f64 / (f64::from(max) - f64::from(min));
    let mut hist = [0u64; OTSU_BINS];
    for &v in values {
        if v.is_finite() {
            // f64 so that a value just below a bin edge does not round up
            // into the next bin for wide ranges.
            let bin = ((f64::from(v) - f64::from(min)) * scale) as usize;
            hist[bin.min(OTSU_BINS - 1)] += 1;
        }
    }
    hist
}

/// Thresholds `raster` with [`otsu_threshold`]: 1 where a pixel is strictly
/// above the threshold, 0 elsewhere, NaN and ±inf included (as the reference
/// step's `isfinite(x) & (x > t)`).
///
/// Returns the threshold and the row-major mask. On an NDWI raster, 1 is
/// water.
pub fn otsu_mask(raster: &Raster) -> (f32, Vec<u8>) {
    let threshold = otsu_threshold(&raster.data);
    // `v < inf` drops +inf and, with `v > threshold`, NaN; when the threshold
    // itself is NaN every comparison is false and the mask is all 0.
    let mask = raster
        .data
        .iter()
        .map(|&v| u8::from((v > threshold) & (v < f32::INFINITY)))
        .collect();
    (threshold, mask)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::GeoTags;

    fn raster(width: u32, height: u32, data: Vec<f32>) -> Raster {
        Raster::new(width, height, data, GeoTags::default()).unwrap()
    }

    #[test]
    fn normalized_difference_on_known_pixels() {
        let a = raster(3, 2, vec![1200.0, 600.0, 0.0, 5.0, 1.0, 0.0]);
        let b = raster(3, 2, vec![300.0, 2500.0, 0.0, 0.0, -1.0, 7.0]);
        let nd = normalized_difference(&a, &b).unwrap();
        assert_eq!((nd.width, nd.height), (3, 2));
        assert!((nd.data[0] - 0.6).abs() < 1e-6);
        assert!((nd.data[1] - (-1900.0 / 3100.0)).abs() < 1e-6);
        assert!(nd.data[2].is_nan(), "0/0 is nodata");
        assert_eq!(nd.data[3], 1.0);
        assert!(nd.data[4].is_nan(), "a + b == 0 is NaN, not inf");
        assert_eq!(nd.data[5], -1.0);
    }

    #[test]
    fn normalized_difference_keeps_a_geo_and_checks_shapes() {
        let geo = GeoTags {
            pixel_scale: Some(vec![10.0, 10.0, 0.0]),
            ..GeoTags::default()
        };
        let a = Raster::new(1, 1, vec![1.0], geo.clone()).unwrap();
        let b = raster(1, 1, vec![1.0]);
        assert_eq!(normalized_difference(&a, &b).unwrap().geo, geo);

        let tall = raster(1, 2, vec![1.0, 2.0]);
        let wide = raster(2, 1, vec![1.0, 2.0]);
        let err = normalized_difference(&tall, &wide).unwrap_err();
        assert!(
            matches!(
                err,
                Error::SizeMismatch {
                    a_width: 1,
                    a_height: 2,
                    b_width: 2,
                    b_height: 1
                }
            ),
            "{err}"
        );

        let other = GeoTags {
            pixel_scale: Some(vec![20.0, 20.0, 0.0]),
            ..GeoTags::default()
        };
        let c = Raster::new(1, 1, vec![1.0], other).unwrap();
        assert!(matches!(
            normalized_difference(&a, &c),
            Err(Error::GridMismatch)
        ));
    }

    #[test]
    fn otsu_splits_a_bimodal_distribution_between_the_modes() {
        // Two clusters with a little deterministic spread, plus nodata.
        let mut values = Vec::new();
        for i in 0..1000 {
            let jitter = ((i * 37) % 21) as f32 * 0.01 - 0.1;
            values.push(-0.5 + jitter);
            if i % 3 == 0 {
                values.push(0.6 + jitter);
            }
        }
        values.extend([f32::NAN, f32::INFINITY, f32::NEG_INFINITY]);
        let t = otsu_threshold(&values);
        assert!(
            t > -0.5 && t < 0.6,
            "threshold {t} is not between the modes"
        );

        let r = raster(values.len() as u32, 1, values.clone());
        let (t2, mask) = otsu_mask(&r);
        assert_eq!(t, t2);
        let above = mask.iter().filter(|&&m| m == 1).count();
        assert_eq!(
            above,
            values.iter().filter(|&&v| v > 0.4 && v.is_finite()).count()
        );
        assert_eq!(
            &mask[mask.len() - 3..],
            [0, 0, 0],
            "NaN and inf are never above"
        );
    }

    #[test]
    fn otsu_matches_scikit_image_on_a_small_case() {
        // Over 0..10 the bins are 10/256 wide and 1.0 falls in bin 25. Every
        // split from bin 25 to 203 separates {0, 0, 1, 1} from {8, 9, 10};
        // the first one wins, and its centre 25.5 * 10/256 is what
        // skimage.filters.threshold_otsu returns for this array.
        let values = [0.0, 0.0, 1.0, 1.0, 8.0, 9.0, 10.0];
        assert_eq!(otsu_threshold(&values), 0.99609375);
        // The centre lies below 1.0, so the mask puts 1.0 above it, exactly
        // as `image > threshold_otsu(image)` does.
        let (_, mask) = otsu_mask(&raster(7, 1, values.to_vec()));
        assert_eq!(mask, [0, 0, 1, 1, 1, 1, 1]);
    }

    #[test]
    fn otsu_degenerate_inputs() {
        assert!(otsu_threshold(&[]).is_nan());
        assert!(otsu_threshold(&[f32::NAN, f32::INFINITY]).is_nan());
        assert_eq!(otsu_threshold(&[3.0, 3.0, f32::NAN]), 3.0);
        let (t, mask) = otsu_mask(&raster(2, 1, vec![f32::NAN, f32::NAN]));
        assert!(t.is_nan());
        assert_eq!(mask, [0, 0]);
    }
}
