//! The value of an `#if`/`#elif` condition, as C evaluates it: `defined`
//! first, then macros expanded, then any name left over is 0; integer
//! arithmetic in 64 bits with C's operators and precedence.

use super::expand::{expand_string, is_ident_char, is_ident_start, Macros};

/// Evaluate `text` (the condition after `#if`).
pub(crate) fn condition(text: &str, macros: &Macros) -> Result<bool, String> {
    let text = replace_defined(text, macros)?;
    let text = expand_string(&text, macros).map_err(|e| e.message)?;
    let tokens = tokenize(&text)?;
    if tokens.is_empty() {
        return Err("#if needs a condition".into());
    }
    let mut parser = Parser { tokens, pos: 0 };
    let value = parser.ternary()?;
    match parser.tokens.get(parser.pos) {
        None => Ok(value != 0),
        Some(t) => Err(format!("unexpected '{}' in #if condition", t.text())),
    }
}

/// `defined NAME` and `defined(NAME)` become 1 or 0, before expansion.
fn replace_defined(text: &str, macros: &Macros) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = find_word(rest, "defined") {
        out.push_str(&rest[..i]);
        let after = rest[i + "defined".len()..].trim_start();
        let (inner, paren) = match after.strip_prefix('(') {
            Some(a) => (a.trim_start(), true),
            None => (after, false),
        };
        let len = inner.bytes().take_while(|&b| is_ident_char(b)).count();
        if len == 0 || !is_ident_start(inner.as_bytes()[0]) {
            return Err("'defined' needs a macro name".into());
        }
        let mut tail = &inner[len..];
        if paren {
            tail = tail.trim_start().strip_prefix(')').ok_or("missing ')' after 'defined(NAME'")?;
        }
        out.push_str(if macros.contains_key(&inner[..len]) { " 1 " } else { " 0 " });
        rest = tail;
    }
    out.push_str(rest);
    Ok(out)
}

fn find_word(text: &str, word: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut from = 0;
    while let Some(i) = text[from..].find(word).map(|i| i + from) {
        let before = i.checked_sub(1).map(|j| bytes[j]);
        let after = bytes.get(i + word.len()).copied();
        if !before.is_some_and(|b| is_ident_char(b) || b == b'$' || b == b'@') && !after.is_some_and(is_ident_char) {
            return Some(i);
        }
        from = i + word.len();
    }
    None
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Num(i64),
    Op(&'static str),
}

impl Tok {
    fn text(&self) -> String {
        match self {
            Tok::Num(n) => n.to_string(),
            Tok::Op(o) => o.to_string(),
        }
    }
}

const OPS: [&str; 24] = [
    "<<", ">>", "<=", ">=", "==", "!=", "&&", "||", "(", ")", "!", "~", "*", "/", "%", "+", "-", "<", ">", "&", "^", "|",
    "?", ":",
];

fn tokenize(text: &str) -> Result<Vec<Tok>, String> {
    let mut tokens = Vec::new();
    let mut rest = text.trim_start();
    while !rest.is_empty() {
        let c = rest.as_bytes()[0];
        let len = if c.is_ascii_digit() {
            let len = rest.bytes().take_while(|&b| is_ident_char(b)).count();
            tokens.push(Tok::Num(number(&rest[..len])?));
            len
        } else if c == b'\'' {
            let end = rest[1..].find('\'').ok_or("unterminated character constant")? + 2;
            let ch = rest[1..end - 1].chars().next().ok_or("empty character constant")?;
            tokens.push(Tok::Num(ch as i64));
            end
        } else if is_ident_start(c) {
            // A name that is not a macro is 0 in C's #if.
            tokens.push(Tok::Num(0));
            rest.bytes().take_while(|&b| is_ident_char(b)).count()
        } else if let Some(op) = OPS.iter().find(|op| rest.starts_with(**op)) {
            tokens.push(Tok::Op(op));
            op.len()
        } else {
            return Err(format!("unexpected '{}' in #if condition", rest.chars().next().unwrap_or(' ')));
        };
        rest = rest[len..].trim_start();
    }
    Ok(tokens)
}

/// A C integer constant: decimal, `0x` hex, `0b` binary or `0` octal, with
/// `u`/`l` suffixes.
fn number(text: &str) -> Result<i64, String> {
    let digits = text.trim_end_matches(['u', 'U', 'l', 'L']);
    let (radix, body) = if let Some(h) = digits.strip_prefix("0x").or_else(|| digits.strip_prefix("0X")) {
        (16, h)
    } else if let Some(b) = digits.strip_prefix("0b").or_else(|| digits.strip_prefix("0B")) {
        (2, b)
    } else if digits.len() > 1 && digits.starts_with('0') {
        (8, &digits[1..])
    } else {
        (10, digits)
    };
    u64::from_str_radix(body, radix).map(|v| v as i64).map_err(|_| format!("'{text}' is not an integer constant"))
}

struct Parser {
    tokens: Vec<Tok>,
    pos: usize,
}

/// Binary operators by C precedence, loosest first.
const LEVELS: [&[&str]; 10] = [
    &["||"],
    &["&&"],
    &["|"],
    &["^"],
    &["&"],
    &["==", "!="],
    &["<", "<=", ">", ">="],
    &["<<", ">>"],
    &["+", "-"],
    &["*", "/", "%"],
];

impl Parser {
    fn peek_op(&self) -> Option<&'static str> {
        match self.tokens.get(self.pos) {
            Some(Tok::Op(o)) => Some(o),
            _ => None,
        }
    }

    fn expect(&mut self, op: &str) -> Result<(), String> {
        if self.peek_op() == Some(op) {
            self.pos += 1;
            Ok(())
        } else {
            Err(format!("expected '{op}' in #if condition"))
        }
    }

    fn ternary(&mut self) -> Result<i64, String> {
        let cond = self.binary(0)?;
        if self.peek_op() != Some("?") {
            return Ok(cond);
        }
        self.pos += 1;
        let then = self.ternary()?;
        self.expect(":")?;
        let otherwise = self.ternary()?;
        Ok(if cond != 0 { then } else { otherwise })
    }

    fn binary(&mut self, level: usize) -> Result<i64, String> {
        if level == LEVELS.len() {
            return self.unary();
        }
        let mut lhs = self.binary(level + 1)?;
        while let Some(op) = self.peek_op().filter(|o| LEVELS[level].contains(o)) {
            self.pos += 1;
            let rhs = self.binary(level + 1)?;
            lhs = apply(op, lhs, rhs)?;
        }
        Ok(lhs)
    }

    fn unary(&mut self) -> Result<i64, String> {
        let tok = self.tokens.get(self.pos).cloned().ok_or("#if condition ends too early")?;
        self.pos += 1;
        match tok {
            Tok::Num(n) => Ok(n),
            Tok::Op("(") => {
                let v = self.ternary()?;
                self.expect(")")?;
                Ok(v)
            }
            Tok::Op("!") => Ok(i64::from(self.unary()? == 0)),
            Tok::Op("~") => Ok(!self.unary()?),
            Tok::Op("-") => Ok(self.unary()?.wrapping_neg()),
            Tok::Op("+") => self.unary(),
            Tok::Op(o) => Err(format!("unexpected '{o}' in #if condition")),
        }
    }
}

fn apply(op: &str, a: i64, b: i64) -> Result<i64, String> {
    Ok(match op {
        "||" => i64::from(a != 0 || b != 0),
        "&&" => i64::from(a != 0 && b != 0),
        "|" => a | b,
        "^" => a ^ b,
        "&" => a & b,
        "==" => i64::from(a == b),
        "!=" => i64::from(a != b),
        "<" => i64::from(a < b),
        "<=" => i64::from(a <= b),
        ">" => i64::from(a > b),
        ">=" => i64::from(a >= b),
        "<<" => a.wrapping_shl(b as u32),
        ">>" => a.wrapping_shr(b as u32),
        "+" => a.wrapping_add(b),
        "-" => a.wrapping_sub(b),
        "*" => a.wrapping_mul(b),
        "/" | "%" if b == 0 => return Err("division by zero in #if condition".into()),
        "/" => a.wrapping_div(b),
        "%" => a.wrapping_rem(b),
        _ => unreachable!("LEVELS holds only the operators above"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preprocess::expand::Macro;

    fn eval(text: &str) -> Result<bool, String> {
        let mut macros = Macros::new();
        macros.insert("ONE".into(), Macro { params: None, variadic: false, body: "1".into() });
        macros.insert("TWICE".into(), Macro { params: Some(vec!["x".into()]), variadic: false, body: "((x) * 2)".into() });
        condition(text, &macros)
    }

    #[test]
    fn c_semantics() {
        assert_eq!(eval("defined(ONE) && !defined TWO"), Ok(true));
        assert_eq!(eval("TWICE(ONE + 2) == 6"), Ok(true), "arguments in parentheses as written");
        assert_eq!(eval("UNKNOWN"), Ok(false));
        assert_eq!(eval("0x10 >> 2 == 4 && 010 == 8 && 1 + 2 * 3 == 7"), Ok(true));
        assert_eq!(eval("-1 < 0 ? 5 : 0"), Ok(true));
        assert_eq!(eval("1 / 0"), Err("division by zero in #if condition".into()));
        assert!(eval("1 +").is_err());
        assert!(eval("defined").is_err());
    }
}
