//! With the `libtorch` feature, binaries and tests find libtorch where they were built against
//! it (`scripts/setup.sh --libtorch`), without LD_LIBRARY_PATH.

fn main() {
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    if std::env::var_os("CARGO_FEATURE_LIBTORCH").is_some()
        && let Ok(libtorch) = std::env::var("LIBTORCH")
    {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{libtorch}/lib");
    }
}
