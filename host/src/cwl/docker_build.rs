//! `dockerFile`: images a CWL document builds, when the operator allows it
//! (`allow_image_build`).
//!
//! The image is built by the engine from a context holding only the
//! Dockerfile, without network (`RUN` cannot fetch anything, a missing
//! base image is not pulled) and tagged by the Dockerfile's hash, never by
//! the document's `dockerImageId`: a document must not be able to replace
//! an image other tools run under a name of its choosing.

use super::{fail, Result};
use bollard::query_parameters::BuildImageOptionsBuilder;
use bollard::Docker;
use futures::StreamExt;
use sha2::{Digest as _, Sha256};
use std::collections::{BTreeMap, HashMap};

/// The repository of built images; the tag is the Dockerfile's hash.
pub const BUILT_REPOSITORY: &str = "wades-cwl-build";

/// The tag of the image `dockerfile` builds.
pub fn tag_of(dockerfile: &str) -> String {
    let hash = hex::encode(Sha256::digest(dockerfile.as_bytes()));
    format!("{BUILT_REPOSITORY}:{}", &hash[..32])
}

/// Builds `dockerfile` for tool `tool` unless the engine has it already,
/// and returns the image's tag. Images carry `labels`.
pub async fn build(
    docker: &Docker,
    tool: &str,
    dockerfile: &str,
    labels: &BTreeMap<String, String>,
) -> Result<String> {
    let tag = tag_of(dockerfile);
    if docker.inspect_image(&tag).await.is_ok() {
        return Ok(tag);
    }
    let options = BuildImageOptionsBuilder::default()
        .dockerfile("Dockerfile")
        .t(&tag)
        .q(true)
        .rm(true)
        .forcerm(true)
        .networkmode("none")
        .labels(&labels.clone().into_iter().collect::<HashMap<_, _>>())
        .build();
    let context = tar_of_one("Dockerfile", dockerfile.as_bytes());
    let mut progress = docker.build_image(options, None, Some(bollard::body_full(context.into())));
    while let Some(step) = progress.next().await {
        let info = step.map_err(|e| fail!("building the image of tool '{tool}' failed: {e}"))?;
        if let Some(e) = info.error_detail.and_then(|d| d.message) {
            return Err(fail!("building the image of tool '{tool}' failed: {e}"));
        }
    }
    docker
        .inspect_image(&tag)
        .await
        .map_err(|e| fail!("building the image of tool '{tool}' gave no image: {e}"))?;
    Ok(tag)
}

/// A tar archive (ustar) holding one regular file.
fn tar_of_one(name: &str, content: &[u8]) -> Vec<u8> {
    let mut header = [0u8; 512];
    let put =
        |h: &mut [u8; 512], at: usize, field: &[u8]| h[at..at + field.len()].copy_from_slice(field);
    put(&mut header, 0, name.as_bytes());
    put(&mut header, 100, b"0000644\0");
    put(&mut header, 108, b"0000000\0");
    put(&mut header, 116, b"0000000\0");
    put(
        &mut header,
        124,
        format!("{:011o}\0", content.len()).as_bytes(),
    );
    put(&mut header, 136, b"00000000000\0");
    put(&mut header, 156, b"0");
    put(&mut header, 257, b"ustar\0");
    put(&mut header, 263, b"00");
    // The checksum counts its own field as spaces.
    put(&mut header, 148, b"        ");
    let sum: u32 = header.iter().map(|&b| u32::from(b)).sum();
    put(&mut header, 148, format!("{sum:06o}\0 ").as_bytes());
    let mut tar = header.to_vec();
    tar.extend_from_slice(content);
    tar.resize(tar.len().div_ceil(512) * 512, 0);
    // Two empty blocks end the archive.
    tar.resize(tar.len() + 1024, 0);
    tar
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_context_is_a_tar_of_the_dockerfile() {
        let tar = tar_of_one("Dockerfile", b"FROM scratch\n");
        assert_eq!(tar.len(), 512 + 512 + 1024);
        assert_eq!(&tar[..10], b"Dockerfile");
        assert_eq!(&tar[124..136], b"00000000015\0");
        assert_eq!(&tar[512..525], b"FROM scratch\n");
        // The checksum is the sum of the header's bytes, its field as spaces.
        let mut h = tar[..512].to_vec();
        h[148..156].copy_from_slice(b"        ");
        let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
        assert_eq!(&tar[148..155], format!("{sum:06o}\0").as_bytes());
    }

    #[test]
    fn tags_follow_the_content_not_the_document() {
        assert_eq!(tag_of("FROM a\n"), tag_of("FROM a\n"));
        assert_ne!(tag_of("FROM a\n"), tag_of("FROM b\n"));
        assert!(tag_of("x").starts_with("wades-cwl-build:"));
    }
}
