//! Where build tools, compressors and archivers write: a write outside the workspace is judged
//! (and, approved, granted) only if classification knows the path, and these programs name it
//! in an option or an operand rather than a redirection (`gcc -o /usr/local/bin/app`, `tar czf
//! ~/backup.tgz .`, `gzip ~/notes.txt`, `pip install --target ~/lib`).
//!
//! | program | writes |
//! |---|---|
//! | `gzip`, `bzip2`, `xz`, `zstd`, `lz4`, `pigz`, … and their `un…` forms | each file operand (replaced by its compressed or expanded form), unless writing to stdout, testing or listing (`-c`, `-t`, `-l`); `-o FILE` |
//! | `tar`, `gtar`, `bsdtar` creating, appending or updating | the archive (`-f FILE`, `--file=FILE`, `-czf FILE`, `czf FILE`) |
//! | `zip` | the archive (its first operand), `-O FILE` |
//! | `patch` | the file it patches (its first operand), `-o FILE`, `-d DIR` |
//! | `gcc`, `cc`, `clang`, `g++`, `ld`, `as`, `rustc`, … | `-o FILE`, `-oFILE`; rustc's `--out-dir DIR` |
//! | `go build`, `go test` | `-o FILE` |
//! | `cargo` | `--target-dir`, `--artifact-dir`, `--out-dir`; `cargo new`/`init DIR` |
//! | `cmake` | `-B DIR`, `--install-prefix DIR`, `--prefix DIR` |
//! | `npm` (and its aliases) | `--prefix DIR` |
//! | `pip` | `-t`/`--target`, `--prefix`, `--root DIR`; `download -d DIR`, `wheel -w DIR` |
//! | `python -m venv DIR`, `virtualenv DIR`, `uv venv DIR` | `DIR` |
//! | `code`, `codium`, `cursor` installing or removing an extension | the editor's extensions directory |
//! | `yq -i`/`--inplace` | its file operands (after the expression) |
//! | `awk -i inplace` (gawk's in-place extension) | its file operands (after the program) |
//! | `xxd -r IN OUT` | `OUT` |
//! | `tree -o FILE` | `FILE` |
//! | `history -w`/`-a FILE` | `FILE` |

use crate::file::ProgramSpec;
use crate::matcher::CommandView;

/// The paths `view`'s program writes that it names in an option or an operand (see the module
/// table); empty for any other program. `spec`: the program's entry, which tells an in-place
/// editor's files from its expression.
pub(crate) fn output_writes(view: &CommandView<'_>, spec: Option<&ProgramSpec>) -> Vec<String> {
    let args = &view.argv[1..];
    let value = |names: &[&str]| option_values(args, names);
    match view.program.as_str() {
        "gzip" | "gunzip" | "bzip2" | "bunzip2" | "xz" | "unxz" | "lzma" | "unlzma" | "zstd"
        | "unzstd" | "lz4" | "unlz4" | "pigz" | "unpigz" | "pbzip2" | "compress" | "uncompress"
        | "brotli" => {
            let mut out = value(&["-o", "--output"]);
            if !compressor_leaves_files(args) {
                out.extend(operands(
                    args,
                    &["-S", "--suffix", "-T", "--threads", "-o", "--output"],
                ));
            }
            out
        }
        "tar" | "gtar" | "bsdtar" => {
            if tar_adds(args) {
                tar_archive(args).into_iter().collect()
            } else {
                Vec::new()
            }
        }
        "zip" => {
            let mut out = value(&["-O", "--output-file"]);
            out.extend(
                operands(
                    args,
                    &["-b", "-n", "-P", "-t", "-tt", "-O", "--output-file", "-s"],
                )
                .into_iter()
                .take(1),
            );
            out
        }
        "patch" => {
            let valued = [
                "-i",
                "--input",
                "-o",
                "--output",
                "-d",
                "--directory",
                "-p",
                "--strip",
                "-B",
                "--prefix",
                "-D",
                "--ifdef",
                "-F",
                "--fuzz",
                "-r",
                "--reject-file",
                "-V",
                "--version-control",
                "-Y",
                "--basename-prefix",
                "-z",
                "--suffix",
                "-g",
                "--get",
            ];
            let mut out = value(&["-o", "--output", "-d", "--directory"]);
            out.extend(operands(args, &valued).into_iter().take(1));
            out
        }
        "gcc" | "g++" | "cc" | "c++" | "clang" | "clang++" | "cpp" | "ld" | "ld.lld"
        | "ld.gold" | "as" | "rustc" | "swiftc" | "gfortran" | "tcc" | "nvcc" => {
            let mut out = value(&["-o", "--out-dir"]);
            // gcc's attached form (`-oapp`); clang's `-objcmt-…` options are not outputs.
            out.extend(
                args.iter()
                    .filter_map(|a| a.strip_prefix("-o"))
                    .filter(|v| !v.is_empty() && !v.starts_with("bjc") && !v.starts_with('='))
                    .map(str::to_owned),
            );
            out
        }
        "go" if matches!(first_operand(args).as_deref(), Some("build" | "test")) => value(&["-o"]),
        "cargo" => {
            let mut out = value(&["--target-dir", "--artifact-dir", "--out-dir"]);
            if matches!(first_operand(args).as_deref(), Some("new" | "init")) {
                out.extend(
                    operands(args, &["--name", "--vcs", "--edition", "--registry"])
                        .into_iter()
                        .skip(1)
                        .take(1),
                );
            }
            out
        }
        "cmake" => {
            let mut out = value(&["-B", "--install-prefix", "--prefix"]);
            out.extend(
                args.iter()
                    .filter_map(|a| a.strip_prefix("-B"))
                    .filter(|v| !v.is_empty())
                    .map(str::to_owned),
            );
            out
        }
        "npm" => value(&["--prefix"]),
        "pip" => {
            let mut out = value(&["-t", "--target", "--prefix", "--root"]);
            match first_operand(args).as_deref() {
                Some("download") => out.extend(value(&["-d", "--dest"])),
                Some("wheel") => out.extend(value(&["-w", "--wheel-dir"])),
                _ => {}
            }
            out
        }
        "python" => match args.iter().position(|a| a == "-m") {
            Some(i) if args.get(i + 1).is_some_and(|m| m == "venv") => {
                operands(&args[i + 2..], &["--prompt"])
            }
            _ => Vec::new(),
        },
        "virtualenv" => operands(args, &["-p", "--python", "--prompt", "--activators"]),
        "uv" if first_operand(args).as_deref() == Some("venv") => operands(
            args,
            &["-p", "--python", "--prompt", "--index-url", "--cache-dir"],
        )
        .into_iter()
        .skip(1)
        .collect(),
        // The files after the expression or program, as the program's entry tells them apart.
        "yq" | "awk" if in_place(view.program.as_str(), args) => spec
            .map(|spec| {
                crate::operands::file_operands(view.argv, spec)
                    .into_iter()
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default(),
        "xxd" if args.iter().any(|a| a == "-r" || a == "-revert") => operands(
            args,
            &[
                "-c",
                "-cols",
                "-g",
                "-groupsize",
                "-l",
                "-len",
                "-o",
                "-offset",
                "-s",
                "-seek",
            ],
        )
        .into_iter()
        .nth(1)
        .into_iter()
        .collect(),
        "tree" => value(&["-o"]),
        "history" if args.iter().any(|a| a == "-w" || a == "-a") => operands(args, &[]),
        "code" | "codium" | "code-insiders" | "cursor" => {
            let installs = args.iter().any(|a| {
                a.starts_with("--install-extension") || a.starts_with("--uninstall-extension")
            });
            if !installs {
                return Vec::new();
            }
            let dir = value(&["--extensions-dir"]);
            if dir.is_empty() {
                let editor = match view.program.as_str() {
                    "cursor" => "~/.cursor/extensions",
                    "codium" => "~/.vscode-oss/extensions",
                    "code-insiders" => "~/.vscode-insiders/extensions",
                    _ => "~/.vscode/extensions",
                };
                vec![editor.to_owned()]
            } else {
                dir
            }
        }
        _ => Vec::new(),
    }
}

/// Whether `yq` or `awk` edits its files in place (`yq -i`, gawk's `-i inplace`).
fn in_place(program: &str, args: &[String]) -> bool {
    if program == "yq" {
        args.iter()
            .any(|a| a == "-i" || a == "--inplace" || a.starts_with("--inplace="))
    } else {
        option_values(args, &["-i", "--include"])
            .iter()
            .any(|v| v == "inplace")
    }
}

/// The values of the options in `names`, as `NAME VALUE` or `NAME=VALUE`, before `--`.
pub(crate) fn option_values(args: &[String], names: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--" {
            break;
        }
        for n in names {
            if a == n {
                out.extend(it.next().cloned());
                break;
            }
            if let Some(v) = a.strip_prefix(n).and_then(|r| r.strip_prefix('=')) {
                out.push(v.to_owned());
                break;
            }
        }
    }
    out
}

/// The operands of `args` (after `--`, every word), the next word after an option of `valued`
/// skipped.
pub(crate) fn operands(args: &[String], valued: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    let mut done = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if done || !a.starts_with('-') || a == "-" {
            out.push(a.clone());
        } else if a == "--" {
            done = true;
        } else if valued.contains(&a.as_str()) {
            it.next();
        }
    }
    out
}

fn first_operand(args: &[String]) -> Option<String> {
    args.iter().find(|a| !a.starts_with('-')).cloned()
}

/// Whether a compressor leaves its files alone: it writes to stdout, tests or lists.
fn compressor_leaves_files(args: &[String]) -> bool {
    args.iter().take_while(|a| *a != "--").any(|a| {
        matches!(
            a.as_str(),
            "--stdout" | "--to-stdout" | "--test" | "--list" | "-"
        ) || a
            .strip_prefix('-')
            .is_some_and(|l| !l.starts_with('-') && l.contains(['c', 't', 'l']))
    })
}

/// Whether `tar` adds files to an archive (`c`, `r`, `u`, `--create`, `--append`, `--update`,
/// in an old-style first word too: `tar czf x.tgz .`).
pub(crate) fn tar_adds(args: &[String]) -> bool {
    let options = || args.iter().take_while(|a| *a != "--");
    let old_style = args
        .first()
        .is_some_and(|a| !a.starts_with('-') && a.contains(['c', 'r', 'u']));
    old_style
        || options().any(|a| {
            a.strip_prefix('-')
                .filter(|c| !c.starts_with('-'))
                .is_some_and(|c| c.contains(['c', 'r', 'u']))
        })
        || options().any(|a| matches!(a.as_str(), "--create" | "--append" | "--update"))
}

/// The archive `tar` works on: `-f FILE`, `--file FILE`, `--file=FILE`, a cluster ending in
/// `f` (`-czf FILE`) or holding its value (`-cfFILE`), or an old-style first word holding `f`
/// (`czf FILE`: its letters that take a value take the following words in order). `-` (stdout)
/// is none.
fn tar_archive(args: &[String]) -> Option<String> {
    // Old-style letters that take a value, besides `f`.
    const VALUED: &[char] = &['b', 'N', 'g', 'L', 'V', 'K', 'T', 'X', 'C'];
    let archive = if let Some(first) = args.first().filter(|a| !a.starts_with('-')) {
        let f = first.find('f')?;
        let before = first[..f].chars().filter(|c| VALUED.contains(c)).count();
        args.get(1 + before).cloned()
    } else {
        let mut found = None;
        let mut it = args.iter().take_while(|a| *a != "--");
        while let Some(a) = it.next() {
            if a == "--file" {
                found = it.next().cloned();
            } else if let Some(v) = a.strip_prefix("--file=") {
                found = Some(v.to_owned());
            } else if let Some(letters) = a.strip_prefix('-').filter(|l| !l.starts_with('-'))
                && let Some(i) = letters.find('f')
            {
                let rest = &letters[i + 1..];
                found = if rest.is_empty() {
                    it.next().cloned()
                } else {
                    Some(rest.to_owned())
                };
            }
        }
        found
    };
    archive.filter(|a| a != "-")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(line: &str) -> Vec<String> {
        line.split(' ').map(String::from).collect()
    }

    #[test]
    fn tar_finds_its_archive_in_every_form() {
        for (line, want) in [
            ("czf ~/b.tgz .", Some("~/b.tgz")),
            ("cbf 20 ~/b.tar .", Some("~/b.tar")),
            ("-czf ~/b.tgz .", Some("~/b.tgz")),
            ("-c -f ~/b.tar .", Some("~/b.tar")),
            ("-cf~/b.tar .", Some("~/b.tar")),
            ("--create --file=~/b.tar .", Some("~/b.tar")),
            ("--create --file ~/b.tar .", Some("~/b.tar")),
            ("czf - .", None),
            ("cz .", None),
        ] {
            assert_eq!(tar_archive(&argv(line)).as_deref(), want, "tar {line}");
        }
        assert!(tar_adds(&argv("czf x .")));
        assert!(tar_adds(&argv("-rf x y")));
        assert!(!tar_adds(&argv("xzf x")));
        assert!(!tar_adds(&argv("-tvf x")));
    }

    #[test]
    fn compressors_that_write_to_stdout_write_no_file() {
        assert!(compressor_leaves_files(&argv("-c x")));
        assert!(compressor_leaves_files(&argv("-dc x")));
        assert!(compressor_leaves_files(&argv("--stdout x")));
        assert!(!compressor_leaves_files(&argv("-k -9 x")));
    }
}
