//! rustyline's hooks: completion ([`super::completion`]) and the validator
//! that keeps an entry open while braces are (Enter then inserts a newline,
//! and the whole block becomes one history entry).

use super::completion::{complete, Completion, KernelVocabulary};
use super::input::is_complete;
use rustyline::completion::{Completer, FilenameCompleter, Pair};
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::{ValidationContext, ValidationResult, Validator};
use rustyline::{Context, Helper};

pub struct ReplHelper<'k> {
    vocab: KernelVocabulary<'k>,
    files: FilenameCompleter,
    /// The session's map names (without `@`), refreshed after each entry.
    pub maps: Vec<String>,
}

impl<'k> ReplHelper<'k> {
    pub fn new(vocab: KernelVocabulary<'k>) -> Self {
        ReplHelper { vocab, files: FilenameCompleter::new(), maps: Vec::new() }
    }
}

impl Completer for ReplHelper<'_> {
    type Candidate = Pair;

    fn complete(&self, line: &str, pos: usize, ctx: &Context<'_>) -> rustyline::Result<(usize, Vec<Pair>)> {
        match complete(line, pos, &self.vocab, &self.maps) {
            Completion::Words(start, words) => {
                Ok((start, words.into_iter().map(|w| Pair { display: w.clone(), replacement: w }).collect()))
            }
            Completion::File => self.files.complete(line, pos, ctx),
        }
    }
}

impl Hinter for ReplHelper<'_> {
    type Hint = String;
}

impl Highlighter for ReplHelper<'_> {}

impl Validator for ReplHelper<'_> {
    fn validate(&self, ctx: &mut ValidationContext<'_>) -> rustyline::Result<ValidationResult> {
        Ok(if is_complete(ctx.input()) { ValidationResult::Valid(None) } else { ValidationResult::Incomplete })
    }
}

impl Helper for ReplHelper<'_> {}
