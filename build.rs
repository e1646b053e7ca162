fn main() {
    // COMMIT_ID and BUILD_REL_DATE for gst::plugin_define!.
    gst_plugin_version_helper::info();
    // Where scripts/setup.sh unpacks ONNX Runtime, so the library is found at run time without
    // any environment variable.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(".onnxruntime").join("current");
    println!("cargo:rustc-env=GARMENT_ORT_DIR={}", dir.display());
    println!("cargo:rerun-if-changed=build.rs");
}
