//! `openapi.yaml` as JSON, for the server to serve and render without a YAML parser.

fn main() {
    println!("cargo:rerun-if-changed=openapi.yaml");
    let text = std::fs::read_to_string("openapi.yaml").expect("openapi.yaml at the project root");
    let spec: serde_json::Value = serde_yaml::from_str(&text).expect("openapi.yaml parses");
    let out =
        std::path::Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR")).join("openapi.json");
    std::fs::write(out, serde_json::to_string(&spec).expect("JSON")).expect("write openapi.json");
}
