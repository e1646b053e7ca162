// Records where scripts/setup.sh unpacks ONNX Runtime, so the library is found at run time
// without any environment variable.
fn main() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(".onnxruntime").join("current");
    println!("cargo:rustc-env=GARMENT_ORT_DIR={}", dir.display());
    println!("cargo:rerun-if-changed=build.rs");
}
