//! The display quoting, read back by a real bash: every word comes back exactly as it was.

use warden_policy::display::join_words;

#[test]
fn every_quoted_word_reads_back_as_itself_in_bash() {
    let words = [
        "plain",
        "two words",
        "it's",
        "",
        "a\nb",
        "x\u{202e}y",
        "back\\slash'quote",
        "$(id)",
        "\u{7f}del",
        "emoji 😀",
    ];
    let line = join_words(words.iter().copied());
    let Ok(out) = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!("printf '%s\\0' {line}"))
        .output()
    else {
        panic!("bash is needed to check the quoting");
    };
    let got: Vec<&str> = std::str::from_utf8(&out.stdout)
        .unwrap()
        .split_terminator('\0')
        .collect();
    assert_eq!(got, words, "{line}");
}
