# Seed 000, the ESA "water-bodies" application package, with its steps as
# wades processes: crop -> normalized difference -> Otsu threshold per scene,
# then one STAC item collection of the water masks. Every step runs in the
# wasm sandbox (wades:WasmRequirement names the deployed process).
#
# Unlike the seed, scenes are given as files (green and near-infrared bands,
# in the same order) rather than STAC item URLs, since the steps have no
# network, and the AOI is in the scenes' CRS, since crop does not reproject.
cwlVersion: v1.2
$namespaces:
  wades: "https://wades.dev/cwl#"
  iana: "https://www.iana.org/assignments/media-types/"
$graph:
- class: Workflow
  id: water-bodies
  label: Water bodies detection
  doc: >-
    Detects water bodies in optical scenes: each scene's green and near-infrared
    bands are cropped to the area of interest, their normalized difference
    (NDWI) is thresholded with Otsu's method, and the water masks are published
    as a STAC item collection.
  requirements:
    ScatterFeatureRequirement: {}
    SubworkflowFeatureRequirement: {}
  inputs:
    green:
      type: File[]
      label: Green bands
      doc: One single-band GeoTIFF per scene (e.g. Sentinel-2 B03).
      format: iana:image/tiff
    nir:
      type: File[]
      label: Near-infrared bands
      doc: One single-band GeoTIFF per scene, in the order of the green bands (e.g. Sentinel-2 B08).
      format: iana:image/tiff
    aoi:
      type: string
      label: Area of interest
      doc: min_x,min_y,max_x,max_y in the CRS of the scenes.
    epsg:
      type: string?
      label: CRS of the area of interest
      doc: EPSG:<code>; it must be the scenes' CRS.
  outputs:
    stac_catalog:
      type: Directory
      label: STAC catalog
      doc: collection.json (a STAC item collection) and one folder per item with its water mask.
      outputSource: stac/stac_catalog
  steps:
    detect:
      run: "#detect"
      scatter: [green, nir]
      scatterMethod: dotproduct
      in: {green: green, nir: nir, aoi: aoi, epsg: epsg}
      out: [mask]
    stac:
      run: "#stac"
      in: {masks: detect/mask}
      out: [stac_catalog]
- class: Workflow
  id: detect
  inputs: {green: File, nir: File, aoi: string, epsg: string?}
  outputs:
    mask: {type: File, outputSource: otsu/mask}
  steps:
    crop_green:
      run: "#crop"
      in: {raster: green, aoi: aoi, epsg: epsg}
      out: [cropped]
    crop_nir:
      run: "#crop"
      in: {raster: nir, aoi: aoi, epsg: epsg}
      out: [cropped]
    normalized_difference:
      run: "#normalized_difference"
      in: {a: crop_green/cropped, b: crop_nir/cropped}
      out: [nd]
    otsu:
      run: "#otsu"
      in: {raster: normalized_difference/nd}
      out: [mask]
- class: CommandLineTool
  id: crop
  requirements:
    wades:WasmRequirement: {process: crop}
  inputs: {raster: File, aoi: string, epsg: string?}
  outputs: {cropped: File}
- class: CommandLineTool
  id: normalized_difference
  requirements:
    wades:WasmRequirement: {process: normalized-difference}
  inputs: {a: File, b: File}
  outputs: {nd: File}
- class: CommandLineTool
  id: otsu
  requirements:
    wades:WasmRequirement: {process: otsu}
  inputs: {raster: File}
  outputs: {mask: File}
# stac: the last tool of the graph (tests/cwl.rs swaps it for a container).
- class: CommandLineTool
  id: stac
  requirements:
    wades:WasmRequirement: {process: stac}
  inputs: {masks: "File[]"}
  outputs:
    stac_catalog: {type: Directory, outputBinding: {glob: stac}}
