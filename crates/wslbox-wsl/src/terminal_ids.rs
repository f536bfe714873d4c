//! The GUIDs WSL derives for a distribution's Windows Terminal fragment (microsoft/WSL
//! `src/windows/service/exe/LxssUserSession.cpp`, `_CreateTerminalProfile`; WSL-FACTS.md,
//! "What registration creates"). Both are RFC 4122 UUIDv5 over the UTF-16LE bytes of a string:
//!
//! - the fragment's file name and its profile's `guid`: namespace
//!   `{BE9372FE-59E1-4876-BDA9-C33C8F2F1AF1}`, the distribution GUID (lowercase, braces);
//! - the `{"updates": H, "hidden": true}` entry that hides the profile Windows Terminal
//!   generates by itself for a WSL distribution: namespace
//!   `{2bde4a90-d05f-401c-9492-e40884ead1d8}`, the distribution's name. It changes with the
//!   name, so a rename must rewrite it.

use uuid::Uuid;

const FRAGMENT_PROFILE_NAMESPACE: Uuid = Uuid::from_u128(0xBE93_72FE_59E1_4876_BDA9_C33C_8F2F_1AF1);
const GENERATED_PROFILE_NAMESPACE: Uuid =
    Uuid::from_u128(0x2bde_4a90_d05f_401c_9492_e408_84ea_d1d8);

/// The fragment's profile GUID (and file stem) for the distribution `{GUID}`.
pub fn fragment_profile_guid(distribution_guid: &str) -> String {
    let guid = format!(
        "{{{}}}",
        distribution_guid
            .trim_matches(|c| c == '{' || c == '}')
            .to_lowercase()
    );
    v5(&FRAGMENT_PROFILE_NAMESPACE, &guid)
}

/// The GUID of the profile Windows Terminal generates for a distribution named `name`.
pub fn generated_profile_guid(name: &str) -> String {
    v5(&GENERATED_PROFILE_NAMESPACE, name)
}

fn v5(namespace: &Uuid, text: &str) -> String {
    let bytes: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
    Uuid::new_v5(namespace, &bytes).braced().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_published_vector_for_ubuntu() {
        assert_eq!(
            generated_profile_guid("Ubuntu"),
            "{2c4de342-38b7-51cf-b940-2309a097f518}"
        );
    }

    #[test]
    fn the_profile_guid_ignores_the_case_and_braces_of_the_distribution_guid() {
        let a = fragment_profile_guid("{ABCDEF01-2345-6789-ABCD-EF0123456789}");
        assert_eq!(
            a,
            fragment_profile_guid("abcdef01-2345-6789-abcd-ef0123456789")
        );
        assert_ne!(
            a,
            fragment_profile_guid("{abcdef01-2345-6789-abcd-ef0123456780}")
        );
        assert!(
            a.starts_with('{') && a.ends_with('}') && a.len() == 38,
            "{a}"
        );
        assert_eq!(&a[15..16], "5", "a version-5 UUID: {a}");
    }
}
