//! The `accounts` fuzz target's invariant (`fuzz/src/accounts.rs`) on stable: over the
//! committed seed corpus, and over generated account databases (comments, NIS `+`/`-` lines,
//! malformed and duplicate entries, taken ids, CRLF, missing files and final newlines) and
//! byte-level mutations of them.

#[path = "../../../fuzz/src/accounts.rs"]
mod check;
#[allow(dead_code)]
#[path = "../../../fuzz/src/rng.rs"]
mod rng;

use rng::Rng;

const NAMES: &[&str] = &[
    "root", "daemon", "alice", "bob", "dev", "sudo", "wheel", "shadow", "",
];
const IDS: &[&str] = &[
    "0",
    "1",
    "27",
    "42",
    "1000",
    "1500",
    "60000",
    "x",
    "",
    "4294967295",
];
const OTHER: &[&str] = &["# comment", "+@nis::::::", "-bad", "", "   ", "garbage"];

/// One line of a database with `fields` fields, usually well formed.
fn line(rng: &mut Rng, fields: usize) -> String {
    if rng.below(10) == 0 {
        return rng.pick(OTHER).to_owned();
    }
    let n = if rng.below(12) == 0 {
        fields + rng.below(3) - 1
    } else {
        fields
    };
    let mut f: Vec<String> = (0..n)
        .map(|i| match (fields, i) {
            (_, 0) => rng.pick(NAMES).to_owned(),
            (7, 2 | 3) | (4, 2) | (3, 1) => rng.pick(IDS).to_owned(),
            (4, 3) if rng.below(2) == 0 => "alice,bob".to_owned(),
            (9, 1) => rng.pick(&["*", "!", "$6$s$h", ""]).to_owned(),
            _ => String::new(),
        })
        .collect();
    if fields == 3 && n == 3 {
        f[2] = rng.pick(&["65536", "1", "4294000000"]).to_owned();
    }
    f.join(":")
}

fn input(rng: &mut Rng) -> Vec<u8> {
    let files = 1 + rng.below(check::FILES.len());
    let crlf = rng.below(6) == 0;
    let parts: Vec<String> = check::FILES[..files]
        .iter()
        .map(|&(_, fields)| {
            let mut text: String = (0..rng.below(8))
                .map(|_| line(rng, fields) + if crlf { "\r\n" } else { "\n" })
                .collect();
            if rng.below(5) == 0 {
                text.pop();
            }
            text
        })
        .collect();
    parts.join("\0").into_bytes()
}

#[test]
fn every_seed_in_the_corpus_keeps_the_invariant() {
    for (path, data) in rng::corpus(env!("CARGO_MANIFEST_DIR"), "accounts") {
        eprintln!("{path}: {} cases accepted", check::check_accounts(&data));
    }
}

#[test]
fn generated_databases_and_their_mutations_keep_the_invariant() {
    let mut rng = Rng(0x5eed_acc0_0000_0001);
    let (mut accepted, mut total) = (0, 0);
    for case in 0..600 {
        let mut data = input(&mut rng);
        if case % 3 == 2 {
            data = rng.mutate(data, b":\n\r,0a+#\x00");
        }
        accepted += check::check_accounts(&data);
        total += 5;
    }
    eprintln!("{accepted} of {total} customizations accepted");
    assert!(
        accepted * 3 > total,
        "only {accepted} of {total} were accepted"
    );
}

#[test]
fn user_names_that_could_split_a_line_are_refused() {
    let mut rng = Rng(0x5eed_acc0_0000_0002);
    let chars: Vec<char> = "ab_-$:,\n\r \t/0A\u{e9}".chars().collect();
    for _ in 0..5000 {
        let name: String = (0..rng.below(6))
            .map(|_| chars[rng.below(chars.len())])
            .collect();
        check::check_user_name(&name);
    }
}

fn customize_tree(
    tree: &check::Tree,
    opts: &wslbox_rootfs::customize::WslOptions,
) -> Result<wslbox_rootfs::customize::Customization, wslbox_rootfs::customize::CustomizeError> {
    let digest = format!("sha256:{}", "ab".repeat(32)).parse().unwrap();
    let platform = wslbox_reference::Platform {
        os: "linux".into(),
        architecture: "amd64".into(),
        variant: None,
    };
    let config = wslbox_image::ImageConfigSummary::default();
    let facts = wslbox_rootfs::customize::ImageFacts {
        reference: "docker.io/library/debian:bookworm",
        manifest_digest: &digest,
        platform: &platform,
        config: &config,
        exported_at: 1_763_726_400,
    };
    wslbox_rootfs::customize::customize(tree, &facts, opts)
}

/// Found by the generated cases: `DefaultUid` 1000 chose the second `dev` line, but
/// `[user] default=dev` would log in as the first one (uid 60000).
#[test]
fn image_user_whose_name_an_earlier_entry_shadows_stays_root() {
    let data = fs_err::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fuzz/corpus/accounts/regression-shadowed-image-user"
    ))
    .unwrap();
    let tree = check::Tree::from_input(&data);
    for default_uid in [1000, 60000] {
        let opts = wslbox_rootfs::customize::WslOptions {
            default_uid: Some(default_uid),
            ..Default::default()
        };
        let custom = customize_tree(&tree, &opts).unwrap();
        let chosen = custom.default_user.map(|u| u.uid);
        let ambiguous = custom
            .warnings
            .iter()
            .any(|w| w.code == "image-user-ambiguous");
        if default_uid == 1000 {
            assert_eq!((chosen, ambiguous), (None, true));
        } else {
            assert_eq!((chosen, ambiguous), (Some(Some(60000)), false));
        }
    }
    check::check_accounts(&data);
}

/// A passwd name may hold a carriage return, which must not reach `[user] default`.
#[test]
fn image_user_named_with_a_carriage_return_never_reaches_wsl_conf() {
    let tree = check::Tree::from_input(
        b"root:x:0:0::/root:/bin/sh\na\rb:x:1000:1000::/home/a:/bin/sh\n\0root:x:0:\n",
    );
    let opts = wslbox_rootfs::customize::WslOptions {
        default_uid: Some(1000),
        ..Default::default()
    };
    let err = customize_tree(&tree, &opts).unwrap_err().to_string();
    assert!(err.contains("line break"), "{err}");
}
