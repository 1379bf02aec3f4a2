//! Fuzz target: arbitrary bytes as shell text and as an argv must never panic, and spans must
//! stay inside the text on char boundaries.
#![no_main]

use libfuzzer_sys::fuzz_target;
use warden_shell::{Analysis, analyse_argv, analyse_shell};

fn check(text: &str, a: &Analysis) {
    for s in a.commands.iter().map(|c| c.span).chain(a.opaque.iter().map(|o| o.span)) {
        assert!(s.start <= s.end && s.end <= text.len());
        assert!(text.is_char_boundary(s.start) && text.is_char_boundary(s.end));
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let a = analyse_shell(&text);
    check(&text, &a);
    let words: Vec<String> = text.split(' ').map(str::to_string).collect();
    let b = analyse_argv(&words);
    check(&words.join(" "), &b);
});
