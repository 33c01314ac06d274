//! Plugin components written byte by byte: the smallest valid components of the shape
//! `wit-component` gives a plugin, for tests that need a package the host reads (its imports,
//! its manifest) without building one for wasm32. They are never run.

/// What a minimal plugin imports: `customers.get`, which needs `customers:read`.
pub const READS_CUSTOMERS: &[(&str, &[&str])] = &[("tessera:plugin/customers@0.1.4", &["get"])];

/// A component that imports, under each name given, an instance of functions `() -> ()` of
/// the names given, and exports nothing (see
/// [`handmade_component`](tessera_host::runtime::package::handmade_component)).
pub fn bare_component(imports: &[(&str, &[&str])]) -> Vec<u8> {
    tessera_host::runtime::package::handmade_component(imports, &[])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_components_are_what_the_host_reads_as_plugins() {
        let manifest = "[plugin]\nid = \"tiny\"\nname = { zh = \"小\", en = \"Tiny\" }\ndescription = { zh = \"小\", en = \"Tiny\" }\nversion = \"1.0.0\"\n\
                        api = \"^0.1\"\ncapabilities = [\"customers:read\"]\n";
        let package = tessera_host::runtime::package::pack(&bare_component(READS_CUSTOMERS), manifest);
        let read = tessera_host::runtime::package::read(package.clone()).expect("a package the host reads");
        let api = tessera_host::runtime::package::api_use(&package).expect("its imports");
        tessera_host::runtime::package::check_capabilities(&read.manifest, &api).expect("imports match capabilities");
        let bare = tessera_host::runtime::package::pack(&bare_component(&[]), manifest);
        assert!(
            tessera_host::runtime::package::api_use(&bare)
                .and_then(|api| tessera_host::runtime::package::check_capabilities(&read.manifest, &api))
                .is_err(),
            "a capability requested and never used is refused"
        );
    }
}
