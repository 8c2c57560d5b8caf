//! The committed include/barrier.h must be exactly what cbindgen generates.
//! Set BARRIER_BLESS_HEADER=1 to rewrite it instead.

use std::path::Path;

#[test]
fn committed_header_matches_generated() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config =
        cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).expect("cbindgen.toml");
    let mut generated = Vec::new();
    cbindgen::Builder::new()
        .with_crate(crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen failed")
        .write(&mut generated);
    let committed_path = crate_dir.join("../include/barrier.h");
    if std::env::var_os("BARRIER_BLESS_HEADER").is_some() {
        std::fs::write(&committed_path, &generated).unwrap();
        return;
    }
    let committed = std::fs::read(&committed_path).unwrap_or_default();
    assert!(
        committed == generated,
        "include/barrier.h differs from cbindgen's output; regenerate it with \
         BARRIER_BLESS_HEADER=1 cargo test -p barrier-capi --test header\n--- generated ---\n{}",
        String::from_utf8_lossy(&generated)
    );
}
