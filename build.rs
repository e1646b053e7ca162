fn main() {
    // COMMIT_ID and BUILD_REL_DATE for gst::plugin_define!.
    gst_plugin_version_helper::info();
    // The target folder this build writes into (OUT_DIR is <target>/<profile>/build/<pkg>/out):
    // code running from inside it is a development build (see src/install.rs).
    let out = std::path::PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let target = out.ancestors().nth(4).unwrap_or(&out);
    println!("cargo:rustc-env=GARMENT_TARGET_DIR={}", target.display());
    println!("cargo:rerun-if-changed=build.rs");
}
