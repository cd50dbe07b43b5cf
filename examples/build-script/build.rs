//! Generates `$OUT_DIR/rust/features.rs` from this repository's registry on every build where
//! the registry or its lock changed (the prost-build convention).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    featgen_codegen::Builder::new()
        .registry("../../registry")
        .generate()?;
    Ok(())
}
