//! The benchmark (bench/bench.c) keeps compiling against the header and
//! the release library, warning-free as strict C11. It is only built here,
//! never run: `bash scripts/bench.sh` runs it.

mod support;

use support::{library_dir, out_dir, root, strict_c};

#[test]
fn benchmark_compiles() {
    let dir = out_dir().join("bench");
    std::fs::create_dir_all(&dir).unwrap();
    let status = strict_c()
        .arg("-I")
        .arg(root().join("include"))
        .arg(root().join("bench/bench.c"))
        .arg(library_dir().join("libbarrier.a"))
        .arg("-o")
        .arg(dir.join("bench-static"))
        .status()
        .expect("running the C compiler");
    assert!(status.success(), "bench/bench.c does not compile");
}
