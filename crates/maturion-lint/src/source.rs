//! Parsing a script into statements, and mapping byte offsets back to lines.

use pg_query::protobuf::{ScanToken, Token};
use pg_query::{NodeEnum, ParserOptions};

use crate::LintError;

/// One statement of a script: where it starts, its parse tree and its text.
#[derive(Debug, Clone)]
pub(crate) struct Statement {
    /// 1-based line of the statement's first keyword.
    pub line: usize,
    pub node: NodeEnum,
    /// The statement's text from its first keyword on, which token-level rules and the
    /// PL/pgSQL parser read.
    pub text: String,
}

/// Each top-level statement of `sql` with the 1-based line of its first keyword.
pub(crate) fn statements(sql: &str) -> Result<Vec<Statement>, LintError> {
    if let Some(nul) = sql.find('\0') {
        return Err(LintError::Parse {
            line: line_of(sql, nul),
            message: "the file contains a NUL byte; is it really SQL?".into(),
        });
    }
    let parsed = pg_query::parse(sql, ParserOptions::DEFAULT).map_err(|e| {
        let message = match e {
            pg_query::Error::Parse(message) => message,
            other => other.to_string(),
        };
        let line = line_of(sql, skip_trivia(sql, error_offset(sql, &message)));
        LintError::Parse {
            line,
            message: first_line(&message),
        }
    })?;
    Ok(parsed
        .protobuf
        .stmts
        .into_iter()
        .filter_map(|raw| {
            let start = usize::try_from(raw.stmt_location).unwrap_or(0);
            // A length of 0 means "to the end of the script".
            let end = match usize::try_from(raw.stmt_len).unwrap_or(0) {
                0 => sql.len(),
                len => start.saturating_add(len).min(sql.len()),
            };
            let keyword = skip_trivia(sql, start).min(end);
            Some(Statement {
                line: line_of(sql, keyword),
                node: raw.stmt?.node?,
                text: sql.get(keyword..end).unwrap_or_default().to_string(),
            })
        })
        .collect())
}

/// pg_query reports a syntax error without its position, so find it again. Every prefix of a
/// valid script either parses or fails only "at end of input"; the first token after which the
/// script fails otherwise is the culprit. If there is none, the script just stops too early,
/// so point at its last statement.
fn error_offset(sql: &str, message: &str) -> usize {
    let Ok(tokens) = pg_query::scan_tokens(sql) else {
        // The scanner fails on an unterminated quote or comment, which then runs to the end
        // of the file: the message quotes it, so it is the file's last occurrence of the quote.
        return quoted_snippet(message)
            .and_then(|snippet| sql.rfind(snippet))
            .unwrap_or(0);
    };
    let offset = |position: i32| usize::try_from(position).unwrap_or(0);
    let fails_before_end = |token: &ScanToken| {
        sql.get(..offset(token.end)).is_some_and(|prefix| {
            matches!(pg_query::parse(prefix, ParserOptions::DEFAULT),
                     Err(pg_query::Error::Parse(m)) if !m.ends_with("at end of input"))
        })
    };
    // Once a prefix has a real error, every longer one has it too: binary search.
    let first_bad = tokens.partition_point(|token| !fails_before_end(token));
    match tokens.get(first_bad) {
        Some(token) => offset(token.start),
        None => tokens
            .iter()
            .rev()
            .find(|token| token.token == Token::Ascii59 as i32)
            .map_or(0, |semicolon| offset(semicolon.end)),
    }
}

/// `X` in a PostgreSQL message ending `at or near "X"`.
fn quoted_snippet(message: &str) -> Option<&str> {
    let (_, rest) = message.split_once("at or near \"")?;
    rest.strip_suffix('"').filter(|snippet| !snippet.is_empty())
}

/// An unterminated quote makes PostgreSQL quote the rest of the file; keep findings and errors
/// one line long.
fn first_line(message: &str) -> String {
    match message.split_once('\n') {
        Some((first, _)) => format!("{first}…\""),
        None => message.to_string(),
    }
}

/// Moves `offset` past whitespace and comments, so that a statement's line is the line of its
/// first keyword and not of the comment above it.
fn skip_trivia(sql: &str, mut offset: usize) -> usize {
    let bytes = sql.as_bytes();
    loop {
        while bytes.get(offset).is_some_and(u8::is_ascii_whitespace) {
            offset += 1;
        }
        let rest = bytes.get(offset..).unwrap_or_default();
        if rest.starts_with(b"--") {
            offset += rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
        } else if let Some(len) = block_comment_len(rest) {
            offset += len;
        } else {
            return offset;
        }
    }
}

/// Length of the block comment at the start of `text`, if one starts and ends there
/// (PostgreSQL block comments nest). An unterminated one is where a syntax error points.
fn block_comment_len(text: &[u8]) -> Option<usize> {
    if !text.starts_with(b"/*") {
        return None;
    }
    let mut depth = 0;
    let mut i = 0;
    while i < text.len() {
        if text[i..].starts_with(b"/*") {
            depth += 1;
            i += 2;
        } else if text[i..].starts_with(b"*/") {
            depth -= 1;
            i += 2;
            if depth == 0 {
                return Some(i);
            }
        } else {
            i += 1;
        }
    }
    None
}

pub(crate) fn line_of(sql: &str, offset: usize) -> usize {
    let before = sql.as_bytes().get(..offset).unwrap_or(sql.as_bytes());
    before.iter().filter(|&&b| b == b'\n').count() + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_error(sql: &str) -> (usize, String) {
        match statements(sql) {
            Err(LintError::Parse { line, message }) => (line, message),
            other => panic!("expected a parse error, got {other:?}"),
        }
    }

    #[test]
    fn statement_lines_skip_comments_and_blank_lines() {
        let sql = "/* outer /* nested */ still comment */\n-- a\n\nSELECT 1;\n\n\n  -- b\n  UPDATE t SET x = 1 WHERE id = 2;";
        let lines: Vec<usize> = statements(sql)
            .unwrap()
            .iter()
            .map(|statement| statement.line)
            .collect();
        assert_eq!(lines, [4, 8]);
    }

    #[test]
    fn parse_error_points_at_the_bad_token() {
        let sql =
            "CREATE TABLE a (id int);\n\nCREATE TABLE b (\n  id int,\n  name text,,\n  x int\n);";
        let (line, message) = parse_error(sql);
        assert_eq!(line, 5);
        assert!(message.contains("syntax error"), "{message}");
    }

    #[test]
    fn parse_error_at_end_of_input_points_at_the_statement() {
        let sql = "SELECT 1;\n\n-- unfinished\nCREATE TABLE b (\n  id int";
        assert_eq!(parse_error(sql).0, 4);
    }

    #[test]
    fn parse_error_for_a_misspelt_keyword() {
        let sql = "SELECT 1;\nALTER TABLE risks\n  ADD COLUMN x int;\nALTER TABEL risks ADD COLUMN y int;";
        let (line, message) = parse_error(sql);
        assert_eq!(line, 4);
        assert!(message.contains("TABEL"), "{message}");
    }

    #[test]
    fn unterminated_strings_and_comments_point_at_where_they_open() {
        assert_eq!(
            parse_error("SELECT 1;\nSELECT 'it''s\n\n fine;\n"),
            (
                2,
                "unterminated quoted string at or near \"'it''s…\"".to_string()
            )
        );
        assert_eq!(parse_error("SELECT 1;\n\nSELECT 2; /* never\nclosed").0, 3);
    }

    #[test]
    fn nul_bytes_are_a_parse_error_not_a_panic() {
        assert_eq!(parse_error("SELECT 1;\nSELECT\0 2;").0, 2);
    }

    #[test]
    fn do_blocks_and_function_bodies_parse() {
        let sql = r#"
            DO $$ BEGIN
              IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'app') THEN
                CREATE ROLE app; -- a ; inside
              END IF;
            END $$;
            CREATE OR REPLACE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $fn$
            BEGIN NEW.updated_at := now(); DELETE FROM x; RETURN NEW; END $fn$;
        "#;
        assert_eq!(statements(sql).unwrap().len(), 2);
    }
}
