//! The text table of `wslbox list`.

#![cfg_attr(not(windows), allow(dead_code))]

use wslbox_wsl::Distribution;

use crate::table::short_digest;

/// Columns sized to their widest cell; the default distribution is marked with `*`.
pub fn render(distros: &[Distribution]) -> String {
    let header = [
        "  NAME",
        "STATE",
        "WSL",
        "OS",
        "IMAGE",
        "CONFIGURED",
        "LOCATION",
    ];
    let rows: Vec<Vec<String>> = distros
        .iter()
        .map(|d| {
            let image = match (&d.image, &d.image_digest) {
                (Some(i), Some(dg)) => format!("{i}@{}", short_digest(dg)),
                (Some(i), None) => i.clone(),
                _ => "-".into(),
            };
            vec![
                format!("{}{}", if d.default { "* " } else { "  " }, d.name),
                d.state.to_string(),
                d.version.to_string(),
                d.os.clone().unwrap_or_else(|| "-".into()),
                image,
                configured(d),
                d.base_path.clone(),
            ]
        })
        .collect();
    crate::table::render(&header, &rows)
}

/// `no`, or `yes` and how many setup scripts ran (`WslboxConfigured`).
fn configured(d: &Distribution) -> String {
    match &d.configured {
        Some(scripts) => format!("yes ({})", scripts.len()),
        None => "no".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wslbox_wsl::State;
    use wslbox_wsl::configured::ConfiguredScript;

    fn distro(name: &str, default: bool) -> Distribution {
        Distribution {
            name: name.into(),
            guid: "{g}".into(),
            state: State::Stopped,
            version: 2,
            default,
            base_path: r"C:\d".into(),
            vhd: Some("ext4.vhdx".into()),
            default_uid: Some(1000),
            os: Some("alpine 3.20".into()),
            image: Some("alpine:3.20".into()),
            image_digest: Some(format!("sha256:{}", "ab".repeat(32))),
            configured: None,
            flags: 0xF,
            shortcut_path: None,
            terminal_profile_path: None,
            created_folder: true,
        }
    }

    #[test]
    fn default_marked_and_columns_aligned() {
        let text = render(&[distro("dev", true), distro("longer-name", false)]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[1].starts_with("* dev "), "{text}");
        assert!(lines[2].starts_with("  longer-name  Stopped"), "{text}");
        let col = lines[0].find("STATE").unwrap();
        assert_eq!(lines[1].find("Stopped"), Some(col), "{text}");
        assert!(
            lines[1].contains("alpine:3.20@sha256:abababababab "),
            "{text}"
        );
    }

    #[test]
    fn configured_column_counts_the_scripts() {
        let mut configured = distro("set-up", false);
        configured.configured = Some(vec![
            ConfiguredScript {
                sha256: "a".repeat(64),
                at: 1,
            };
            2
        ]);
        let text = render(&[distro("plain", true), configured]);
        let lines: Vec<&str> = text.lines().collect();
        let col = lines[0].find("CONFIGURED").unwrap();
        assert_eq!(&lines[1][col..col + 3], "no ", "{text}");
        assert_eq!(&lines[2][col..col + 8], "yes (2) ", "{text}");
    }
}
