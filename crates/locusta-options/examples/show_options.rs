//! Prints the options (and their sources) that locusta would use for the given command line,
//! environment and working directory, or the error it would stop with. Handy for comparing with
//! real Locust: `cargo run -p locusta-options --example show_options -- -u 5 --headless`.

fn main() {
    match locusta_options::parse_env_args() {
        Ok(parsed) => {
            println!("{:#?}", parsed.options);
            let mut sources: Vec<_> = parsed
                .sources
                .iter()
                .filter(|(_, s)| **s != locusta_options::Source::Default)
                .collect();
            sources.sort_by_key(|(k, _)| **k);
            for (dest, source) in sources {
                println!("{dest}: {source}");
            }
        }
        Err(e) => {
            if e.use_stdout {
                print!("{}", e.message);
            } else {
                eprintln!("{e}");
            }
            std::process::exit(e.exit_code);
        }
    }
}
