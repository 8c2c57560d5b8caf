// Tells the C-suite driver (tests/c_suite.rs) which target it compiles for,
// so the `cc` crate picks the same C compiler and flags a build script would.
fn main() {
    for var in ["TARGET", "HOST"] {
        let value = std::env::var(var).unwrap_or_default();
        println!("cargo:rustc-env=BARRIER_BUILD_{var}={value}");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
