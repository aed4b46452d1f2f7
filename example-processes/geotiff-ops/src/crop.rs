//! Cropping a band to an area of interest: the "crop" step of the
//! water-bodies package, without its reprojection.
//!
//! The reference step reprojects the AOI from EPSG:4326 with GDAL; there is
//! no projection library in a small wasm guest, so the AOI is given in the
//! raster's own CRS and checked against its EPSG code.

use crate::{Error, GeoTags, Raster};

/// An area of interest: `[min_x, min_y, max_x, max_y]` in model units of
/// the raster's CRS, and the EPSG code of that CRS if the caller names one.
#[derive(Debug, Clone, PartialEq)]
pub struct Aoi {
    /// Lower-left corner, then upper-right corner.
    pub bbox: [f64; 4],
    /// The CRS the box is in (`EPSG:<code>` without the prefix).
    pub epsg: Option<u32>,
}

impl Aoi {
    /// Parses `"min_x,min_y,max_x,max_y"` (the seed's `aoi` input) and an
    /// optional `"EPSG:<code>"`.
    pub fn parse(bbox: &str, epsg: Option<&str>) -> Result<Aoi, Error> {
        let numbers: Vec<f64> = bbox
            .split(',')
            .map(|n| n.trim().parse::<f64>())
            .collect::<Result<_, _>>()
            .map_err(|_| Error::Aoi(format!("'{bbox}' is not four comma-separated numbers")))?;
        let bbox: [f64; 4] = numbers
            .try_into()
            .map_err(|_| Error::Aoi(format!("'{bbox}' is not four comma-separated numbers")))?;
        if !(bbox[0] < bbox[2] && bbox[1] < bbox[3]) || bbox.iter().any(|n| !n.is_finite()) {
            return Err(Error::Aoi(format!(
                "{bbox:?} is not min_x,min_y,max_x,max_y"
            )));
        }
        let epsg = match epsg {
            None => None,
            Some(e) => {
                let code = e
                    .trim()
                    .strip_prefix("EPSG:")
                    .or_else(|| e.trim().strip_prefix("epsg:"))
                    .unwrap_or(e.trim());
                Some(code.parse().map_err(|_| {
                    Error::Aoi(format!("'{e}' is not an EPSG code such as EPSG:32633"))
                })?)
            }
        };
        Ok(Aoi { bbox, epsg })
    }
}

impl GeoTags {
    /// The EPSG code of the raster's CRS (ProjectedCSTypeGeoKey, else
    /// GeographicTypeGeoKey), if the GeoKeys give one.
    pub fn epsg(&self) -> Option<u32> {
        let keys = self.key_directory.as_ref()?;
        let entries = keys.get(4..)?.chunks_exact(4);
        let code = |id: u16| {
            entries
                .clone()
                // Location 0: the value is in the entry itself.
                .find(|e| e[0] == id && e[1] == 0)
                .map(|e| u32::from(e[3]))
                // 32767 is "user-defined": no EPSG code.
                .filter(|&c| c != 0 && c != 32767)
        };
        code(3072).or_else(|| code(2048))
    }
}

/// The pixels of `raster` that the AOI touches, as a raster of their own
/// whose tiepoint is moved to its new top-left corner.
///
/// Needs a north-up grid (pixel scale and a tiepoint, no transformation
/// matrix). Fails when the AOI names another CRS than the raster's, or
/// does not overlap it.
pub fn crop(raster: &Raster, aoi: &Aoi) -> Result<Raster, Error> {
    raster.check_len()?;
    let geo = &raster.geo;
    if let (Some(want), Some(have)) = (aoi.epsg, geo.epsg()) {
        if want != have {
            return Err(Error::Aoi(format!(
                "the AOI is in EPSG:{want} but the raster in EPSG:{have}; \
                 reprojection is not supported, give the AOI in EPSG:{have}"
            )));
        }
    }
    let (Some(scale), Some(tie), None) = (&geo.pixel_scale, &geo.tiepoints, &geo.transformation)
    else {
        return Err(Error::Unsupported(
            "cropping needs a north-up georeferenced raster (pixel scale and tiepoint)".into(),
        ));
    };
    let (&[sx, sy, ..], &[ti, tj, _, tx, ty, ..]) = (scale.as_slice(), tie.as_slice()) else {
        return Err(Error::Unsupported(
            "malformed pixel scale or tiepoint".into(),
        ));
    };
    if sx <= 0.0 || sy <= 0.0 {
        return Err(Error::Unsupported("pixel scale must be positive".into()));
    }
    let [min_x, min_y, max_x, max_y] = aoi.bbox;
    // Pixel columns and rows (edges) of the box, clamped to the raster.
    let clamp = |v: f64, max: u32| v.clamp(0.0, f64::from(max)) as u32;
    let col0 = clamp(((min_x - tx) / sx + ti).floor(), raster.width);
    let col1 = clamp(((max_x - tx) / sx + ti).ceil(), raster.width);
    let row0 = clamp(((ty - max_y) / sy + tj).floor(), raster.height);
    let row1 = clamp(((ty - min_y) / sy + tj).ceil(), raster.height);
    if col0 >= col1 || row0 >= row1 {
        return Err(Error::Aoi(format!(
            "{:?} does not overlap the raster",
            aoi.bbox
        )));
    }
    let (width, height) = (col1 - col0, row1 - row0);
    let mut data = Vec::with_capacity(width as usize * height as usize);
    for row in row0..row1 {
        let start = row as usize * raster.width as usize + col0 as usize;
        data.extend_from_slice(&raster.data[start..start + width as usize]);
    }
    let mut tiepoints = tie.clone();
    tiepoints[..6].copy_from_slice(&[
        0.0,
        0.0,
        0.0,
        tx + (f64::from(col0) - ti) * sx,
        ty - (f64::from(row0) - tj) * sy,
        tie[5],
    ]);
    Raster::new(
        width,
        height,
        data,
        GeoTags {
            tiepoints: Some(tiepoints),
            ..geo.clone()
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synthetic::utm33n_geo;

    fn scene() -> Raster {
        // 4x3 pixels of 10 m from (399960, 5000040), valued by position.
        let data = (0..12).map(|v| v as f32).collect();
        Raster::new(4, 3, data, utm33n_geo()).unwrap()
    }

    #[test]
    fn crops_the_pixels_the_box_touches_and_moves_the_tiepoint() {
        // x 399975..399985 lies in columns 1 and 2; y 5000015..5000025 in
        // rows 1 and 2.
        let aoi = Aoi::parse("399975,5000015,399985,5000025", Some("EPSG:32633")).unwrap();
        let out = crop(&scene(), &aoi).unwrap();
        assert_eq!((out.width, out.height), (2, 2));
        assert_eq!(out.data, vec![5.0, 6.0, 9.0, 10.0]);
        assert_eq!(
            out.geo.tiepoints.as_deref(),
            Some(&[0.0, 0.0, 0.0, 399_970.0, 5_000_030.0, 0.0][..])
        );
        assert_eq!(out.geo.pixel_scale, scene().geo.pixel_scale);
        assert_eq!(out.geo.epsg(), Some(32633));
    }

    #[test]
    fn a_box_larger_than_the_raster_keeps_all_of_it() {
        let aoi = Aoi::parse("0,0,1e7,1e7", None).unwrap();
        assert_eq!(crop(&scene(), &aoi).unwrap(), scene());
    }

    #[test]
    fn refuses_other_crs_no_overlap_and_bad_boxes() {
        let aoi = Aoi::parse("0,0,1,1", Some("EPSG:4326")).unwrap();
        let e = crop(&scene(), &aoi).unwrap_err();
        assert!(
            e.is_bad_input() && e.to_string().contains("EPSG:32633"),
            "{e}"
        );
        let aoi = Aoi::parse("0,0,1,1", None).unwrap();
        assert!(crop(&scene(), &aoi).unwrap_err().is_bad_input());
        assert!(Aoi::parse("1,2,3", None).is_err());
        assert!(Aoi::parse("3,2,1,4", None).is_err());
        assert!(Aoi::parse("1,2,3,4", Some("UTM")).is_err());
        let plain = Raster::new(1, 1, vec![0.0], GeoTags::default()).unwrap();
        assert!(crop(&plain, &Aoi::parse("0,0,1,1", None).unwrap()).is_err());
    }
}
