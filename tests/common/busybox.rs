//! The container image the Docker tests run their steps in: Debian's static
//! busybox and its applets in `/bin`, `FROM scratch`, as nothing can be
//! pulled here. Shared by `tests/cwl.rs` and `host/tests/cwl_docker.rs`.

use std::process::Command;
use std::sync::OnceLock;

/// Builds the image as `tag` once per test binary, and returns the tag.
pub fn image(tag: &'static str) -> &'static str {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let busybox = std::path::Path::new("/bin/busybox");
        assert!(
            busybox.exists(),
            "/bin/busybox is missing: install Debian's busybox-static (cargo xtask test does)"
        );
        let ctx = tempfile::tempdir().unwrap();
        std::fs::copy(busybox, ctx.path().join("busybox")).unwrap();
        std::fs::write(
            ctx.path().join("Dockerfile"),
            "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\n",
        )
        .unwrap();
        let out = Command::new("docker")
            .args(["build", "-q", "-t", tag])
            .arg(ctx.path())
            .output()
            .expect("the docker CLI must be installed");
        assert!(
            out.status.success(),
            "docker build failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    });
    tag
}
