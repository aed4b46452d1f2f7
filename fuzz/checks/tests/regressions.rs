//! Replays every seed and every kept finding of every fuzz target
//! (`fuzz/seeds/<target>/`, `fuzz/regressions/<target>/`): a crash the
//! fuzzer found once is a test that fails until it is fixed, and stays.

use std::path::Path;
use wades_fuzz_checks::TARGETS;

#[test]
fn every_seed_and_past_finding_passes_its_check() {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut replayed = 0;
    for (target, check) in TARGETS {
        for kind in ["seeds", "regressions"] {
            let Ok(dir) = std::fs::read_dir(fuzz.join(kind).join(target)) else {
                continue;
            };
            for file in dir {
                let path = file.unwrap().path();
                let data = std::fs::read(&path).unwrap();
                eprintln!("{target}: {}", path.display());
                check(&data);
                replayed += 1;
            }
        }
    }
    // Real components are seeds too: the examples `cargo xtask guests`
    // builds (wrong-world among them), not copies committed here.
    let intake = TARGETS
        .iter()
        .find(|(t, _)| *t == "component_intake")
        .expect("the intake target")
        .1;
    let built = fuzz.join("../target/wasm");
    for file in std::fs::read_dir(&built).expect("target/wasm: run `cargo xtask guests` first") {
        let path = file.unwrap().path();
        if path.extension().is_some_and(|e| e == "wasm") {
            eprintln!("component_intake: {}", path.display());
            intake(&std::fs::read(&path).unwrap());
            replayed += 1;
        }
    }
    for (target, _) in TARGETS {
        assert!(
            fuzz.join("seeds").join(target).is_dir(),
            "fuzz target {target} has no seeds"
        );
    }
    assert!(replayed >= TARGETS.len(), "only {replayed} inputs replayed");
}
