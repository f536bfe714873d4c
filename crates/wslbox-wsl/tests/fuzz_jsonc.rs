//! The `terminal_json` fuzz target's invariant (`fuzz/src/jsonc.rs`) on stable: over the
//! committed seed corpus, and over generated Terminal settings (comments, trailing commas,
//! CRLF, escapes, profiles that are and are not the distribution's) and byte-level mutations.

#[path = "../../../fuzz/src/jsonc.rs"]
mod check;
#[allow(dead_code)]
#[path = "../../../fuzz/src/rng.rs"]
mod rng;

use rng::Rng;

const NAMES: &[&str] = &[
    "Old", "old", "New", "Ubuntu", "a", "A", "Debian", "Older", "x y",
];
const GUIDS: &[&str] = &[
    check::GUID,
    "{11111111-2222-3333-4444-555555555555}",
    "11111111-2222-3333-4444-555555555555",
    "{aaaa-old}",
    "{AAAA-OLD}",
    "{2c4de342-38b7-51cf-b940-2309a097f518}",
    "{bbbb}",
];
const COMMANDS: &[&str] = &[
    "wsl.exe -d Old",
    "wsl -d old -u root",
    "wsl.exe --distribution \"Ubuntu\" --cd ~",
    "wsl.exe --distribution-id {11111111-2222-3333-4444-555555555555}",
    "-d a -d A",
    "-d \"a",
    "-d -d Debian",
    "cmd.exe /k echo Old",
    "",
];
const KEYS: &[&str] = &[
    "name",
    "commandline",
    "guid",
    "source",
    "updates",
    "defaultProfile",
    "hidden",
    "list",
];
const GAPS: &[&str] = &[
    "",
    " ",
    "\n",
    "\r\n  ",
    "\t",
    "// c\n",
    "/* c */",
    "/**/",
    "\n// \"name\": \"Old\"\n",
];

struct Gen<'a>(&'a mut Rng);

impl Gen<'_> {
    fn gap(&mut self) -> &'static str {
        self.0.pick(GAPS)
    }

    fn string(&mut self, pool: &[&str]) -> String {
        let s = self.0.pick(pool);
        match self.0.below(6) {
            // An escaped spelling of the same value must be matched too.
            0 => s
                .chars()
                .map(|c| format!("\\u{:04x}", c as u32))
                .collect::<String>(),
            1 => s.replace('"', "\\\"").replace('o', "\\u006f"),
            _ => s.replace('"', "\\\""),
        }
    }

    fn value(&mut self, key: &str, depth: usize) -> String {
        let pool = match key {
            "name" => NAMES,
            "commandline" => COMMANDS,
            "source" => &["Windows.Terminal.Wsl", "Windows.Terminal.Azure"][..],
            "guid" | "updates" | "defaultProfile" => GUIDS,
            _ => &[][..],
        };
        if !pool.is_empty() && self.0.below(8) != 0 {
            return format!("\"{}\"", self.string(pool));
        }
        match self.0.below(if depth > 3 { 3 } else { 6 }) {
            0 => "true".into(),
            1 => "-1.5e3".into(),
            2 => "null".into(),
            3 => self.array(depth + 1),
            _ => self.object(depth + 1),
        }
    }

    fn object(&mut self, depth: usize) -> String {
        let n = self.0.below(5);
        let mut members = Vec::new();
        for _ in 0..n {
            let key = self.0.pick(KEYS);
            let (g1, g2, g3) = (self.gap(), self.gap(), self.gap());
            members.push(format!("{g1}\"{key}\"{g2}:{g3}{}", self.value(key, depth)));
        }
        self.join('{', members, '}')
    }

    fn array(&mut self, depth: usize) -> String {
        let items = (0..self.0.below(4)).map(|_| self.object(depth)).collect();
        self.join('[', items, ']')
    }

    fn join(&mut self, open: char, items: Vec<String>, close: char) -> String {
        let trailing = if !items.is_empty() && self.0.below(3) == 0 {
            ","
        } else {
            ""
        };
        let sep = format!(",{}", self.gap());
        format!("{open}{}{trailing}{}{close}", items.join(&sep), self.gap())
    }

    fn settings(&mut self) -> String {
        let bom = if self.0.below(10) == 0 {
            "\u{feff}"
        } else {
            ""
        };
        let list = self.array(1);
        let profiles = if self.0.below(2) == 0 {
            format!("{{\"defaults\": {{}}, \"list\": {list}}}")
        } else {
            list
        };
        let (g1, g2) = (self.gap(), self.gap());
        let default = format!("\"{}\"", self.string(GUIDS));
        format!("{bom}{g1}{{\"defaultProfile\": {default},{g2}\"profiles\": {profiles}}}\n")
    }
}

#[test]
fn every_seed_in_the_corpus_keeps_the_invariant() {
    for (path, data) in rng::corpus(env!("CARGO_MANIFEST_DIR"), "terminal_json") {
        assert!(check::check_terminal_json(&data).is_some(), "{path} parses");
    }
}

#[test]
fn generated_settings_and_their_mutations_keep_the_invariant() {
    let mut rng = Rng(0x5eed_7e57_0000_0001);
    let (mut parsed, mut edited, cases) = (0, 0, 3000);
    for case in 0..cases {
        let text = Gen(&mut rng).settings();
        let bytes = if case % 3 == 2 {
            rng.mutate(text.into_bytes(), b"{}[],:\"\\/*\n aO-")
        } else {
            text.into_bytes()
        };
        if let Some(edits) = check::check_terminal_json(&bytes) {
            parsed += 1;
            edited += usize::from(edits > 0);
        }
    }
    eprintln!("{parsed} of {cases} cases parsed, {edited} were edited");
    // Most cases must reach the edit, not stop at a parse error, and many must be edited.
    assert!(parsed * 2 > cases, "only {parsed} of {cases} cases parsed");
    assert!(
        edited * 4 > cases,
        "only {edited} of {cases} cases were edited"
    );
}

#[test]
fn quote_round_trips_any_string() {
    let mut rng = Rng(0x5eed_7e57_0000_0002);
    let alphabet = "a\"\\/\n\r\t\u{0}\u{1f}\u{7f}\u{e9}\u{2028}\u{feff}\u{1f600}";
    let chars: Vec<char> = alphabet.chars().collect();
    for _ in 0..2000 {
        let s: String = (0..rng.below(12))
            .map(|_| chars[rng.below(chars.len())])
            .collect();
        check::check_quote(&s);
    }
}
