//! Prints the tree-sitter-bash syntax tree of a shell string (a debugging aid for the analyser).

fn dump(node: tree_sitter::Node<'_>, src: &str, depth: usize, field: Option<&str>) {
    let text = &src[node.byte_range()];
    let short: String = text.chars().take(40).collect();
    println!(
        "{}{}{}{} [{}..{}] {:?}",
        "  ".repeat(depth),
        field.map(|f| format!("{f}: ")).unwrap_or_default(),
        node.kind(),
        if node.is_named() { "" } else { " (anon)" },
        node.start_byte(),
        node.end_byte(),
        short
    );
    let mut c = node.walk();
    for (i, ch) in node.children(&mut c).enumerate() {
        let f = node.field_name_for_child(i as u32);
        dump(ch, src, depth + 1, f);
    }
}

fn main() {
    let src = std::env::args().nth(1).unwrap_or_default();
    let mut p = tree_sitter::Parser::new();
    p.set_language(&tree_sitter_bash::LANGUAGE.into())
        .expect("language");
    let tree = p.parse(&src, None).expect("parse");
    dump(tree.root_node(), &src, 0, None);
}
