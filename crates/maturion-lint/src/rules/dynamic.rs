//! What runs at migration time inside a body: a DO block, and a function or procedure the
//! migration creates and then calls. PL/pgSQL bodies are read with PostgreSQL's own PL/pgSQL
//! parser, so their static statements face every rule; `EXECUTE` runs SQL built at run time,
//! which no lint can read, so a module may not run it at migration time.

use pg_query::protobuf::{CreateFunctionStmt, DefElem, DoStmt, Token};
use pg_query::NodeEnum;
use serde_json::Value;

use super::{platform_only, string_value, table_key, Checker, Violation};
use crate::source::{self, Statement};

const RULE: &str = "ban-dynamic-sql";

/// How deep bodies may nest (a DO block in a DO block, a function calling a function …)
/// before the lint stops reading them: far beyond any real migration, and well within the
/// stack.
const MAX_BODY_DEPTH: usize = 16;

/// PL/pgSQL constructs that run a string as SQL: `EXECUTE`, `FOR … IN EXECUTE`, and the
/// `dynquery` of `RETURN QUERY EXECUTE` and `OPEN … FOR EXECUTE`.
const DYNAMIC_KEYS: &[&str] = &[
    "PLpgSQL_stmt_dynexecute",
    "PLpgSQL_stmt_dynfors",
    "dynquery",
];

/// What a body runs, as far as the lint can tell.
#[derive(Debug, Clone)]
pub(crate) struct Routine {
    /// Line of the statement that defines the body.
    pub line: usize,
    /// Why the lint cannot see what the body runs (`EXECUTE` at line N, an opaque language),
    /// if it cannot.
    pub opaque: Option<String>,
    /// The body's static SQL statements, with their lines in the file.
    pub statements: Vec<Statement>,
}

/// Statements whose expressions run as the migration runs them (a call in a CREATE FUNCTION,
/// CREATE TRIGGER, CREATE POLICY or CREATE VIEW runs later, if ever).
fn runs_expressions(node: &NodeEnum) -> bool {
    matches!(
        node,
        NodeEnum::SelectStmt(_)
            | NodeEnum::InsertStmt(_)
            | NodeEnum::UpdateStmt(_)
            | NodeEnum::DeleteStmt(_)
            | NodeEnum::MergeStmt(_)
            | NodeEnum::CallStmt(_)
            | NodeEnum::CreateTableAsStmt(_)
            | NodeEnum::ExplainStmt(_)
            | NodeEnum::CopyStmt(_)
            | NodeEnum::IndexStmt(_)
            | NodeEnum::AlterTableStmt(_)
    )
}

impl Checker {
    /// DO blocks, routines created here, and calls at migration time of such routines.
    pub(super) fn check_bodies(&mut self, statement: &Statement) -> Vec<(usize, Violation)> {
        match &statement.node {
            NodeEnum::DoStmt(s) => {
                let routine = do_block(s, statement);
                self.run(&routine, "this DO block", statement.line)
            }
            NodeEnum::CreateFunctionStmt(s) => {
                let name = routine_key(s);
                let routine = created_routine(s, statement);
                self.created_routines.insert(name, routine);
                Vec::new()
            }
            node if runs_expressions(node) => self.calls(statement),
            _ => Vec::new(),
        }
    }

    /// Each routine created here that `statement` calls runs now: check its body.
    fn calls(&mut self, statement: &Statement) -> Vec<(usize, Violation)> {
        let mut seen = std::collections::HashSet::new();
        let called: Vec<(String, Routine)> = called_names(&statement.text)
            .into_iter()
            .filter(|name| seen.insert(name.clone()) && !self.expanding.contains(name))
            .filter_map(|name| {
                let routine = self.created_routines.get(&name)?.clone();
                Some((name, routine))
            })
            .collect();
        let mut violations = Vec::new();
        for (name, routine) in called {
            self.expanding.push(name.clone());
            let what = format!("{name}() (created on line {})", routine.line);
            violations.extend(self.run(&routine, &what, statement.line));
            self.expanding.pop();
        }
        violations
    }

    /// The violations of running `routine` now: refused outright if the lint cannot see what
    /// it runs, else those of its statements.
    fn run(&mut self, routine: &Routine, what: &str, line: usize) -> Vec<(usize, Violation)> {
        if self.body_depth >= MAX_BODY_DEPTH {
            let reason = format!("it nests bodies more than {MAX_BODY_DEPTH} deep");
            return vec![(line, dynamic_sql(what, &reason))];
        }
        let mut violations = Vec::new();
        if let Some(reason) = &routine.opaque {
            violations.push((line, dynamic_sql(what, reason)));
        }
        self.body_depth += 1;
        for inner in &routine.statements {
            violations.extend(self.check_statement(inner));
        }
        self.body_depth -= 1;
        violations
    }
}

fn dynamic_sql(what: &str, reason: &str) -> Violation {
    platform_only(
        RULE,
        format!(
            "{what} runs at migration time, and {reason}: SQL built while the migration runs \
             is invisible to this lint, so it could drop, rewrite or re-grant anything \
             unchecked. Safe alternative: write each statement out in the migration itself \
             (one statement per table instead of a loop over format()); a DO block without \
             EXECUTE is fine, its statements are checked like the others."
        ),
    )
}

fn do_block(s: &DoStmt, statement: &Statement) -> Routine {
    let language = def_elem_string(&s.args, "language").unwrap_or("plpgsql");
    let body = def_elem_string(&s.args, "as").unwrap_or_default();
    if !language.eq_ignore_ascii_case("plpgsql") {
        return opaque(statement.line, format!("its language {language} is opaque"));
    }
    plpgsql(&statement.text, body, statement.line)
}

fn created_routine(s: &CreateFunctionStmt, statement: &Statement) -> Routine {
    let language = def_elem_string(&s.options, "language").unwrap_or("sql");
    let body = s.options.iter().find_map(|option| match &option.node {
        Some(NodeEnum::DefElem(d)) if d.defname == "as" => as_body(d),
        _ => None,
    });
    match (language.to_ascii_lowercase().as_str(), body) {
        ("plpgsql", Some(body)) => plpgsql(&statement.text, body, statement.line),
        // `BEGIN ATOMIC … END` (no `AS` string): its statements are fixed when it is created.
        ("sql", None) => Routine {
            line: statement.line,
            opaque: None,
            statements: Vec::new(),
        },
        ("sql", Some(body)) => Routine {
            line: statement.line,
            opaque: None,
            statements: nested(body, body_line(&statement.text, body, statement.line)),
        },
        (language, _) => opaque(statement.line, format!("its language {language} is opaque")),
    }
}

fn opaque(line: usize, reason: String) -> Routine {
    Routine {
        line,
        opaque: Some(reason),
        statements: Vec::new(),
    }
}

/// Reads a PL/pgSQL body: its static statements, and whether it runs dynamic SQL.
fn plpgsql(statement_text: &str, body: &str, statement_line: usize) -> Routine {
    let first_line = body_line(statement_text, body, statement_line);
    let parsed = match pg_query::parse_plpgsql(statement_text) {
        Ok(parsed) => parsed,
        Err(error) => {
            // The PL/pgSQL parser refused it (PostgreSQL would too, when it runs): all that is
            // left is to look for the EXECUTE keyword.
            let reason = if has_execute_token(body) {
                "its body contains EXECUTE".to_string()
            } else {
                format!("its body cannot be read ({error})")
            };
            return opaque(statement_line, reason);
        }
    };
    let mut walk = Walk::default();
    walk.value(&parsed, 1);
    let at = |lineno: usize| first_line + lineno.saturating_sub(1);
    Routine {
        line: statement_line,
        opaque: walk
            .dynamic
            .map(|lineno| format!("runs EXECUTE (line {})", at(lineno))),
        statements: walk
            .expressions
            .iter()
            .flat_map(|(lineno, sql)| nested(sql, at(*lineno)))
            .collect(),
    }
}

/// The PL/pgSQL parse tree's dynamic statements and SQL expressions, with their body lines.
#[derive(Default)]
struct Walk {
    dynamic: Option<usize>,
    expressions: Vec<(usize, String)>,
}

impl Walk {
    fn value(&mut self, value: &Value, inherited: usize) {
        match value {
            Value::Object(map) => {
                let here = lineno(value).unwrap_or(inherited);
                for (key, child) in map {
                    let child_line = lineno(child).unwrap_or(here);
                    if DYNAMIC_KEYS.contains(&key.as_str()) && self.dynamic.is_none() {
                        self.dynamic = Some(child_line);
                    }
                    if key == "PLpgSQL_expr" {
                        self.expressions
                            .extend(expression_sql(child).map(|sql| (here, sql)));
                    }
                    self.value(child, here);
                }
            }
            Value::Array(items) => items.iter().for_each(|item| self.value(item, inherited)),
            _ => {}
        }
    }
}

fn lineno(value: &Value) -> Option<usize> {
    usize::try_from(value.get("lineno")?.as_u64()?).ok()
}

/// An expression of a PL/pgSQL body as SQL PostgreSQL would run: statements as they are,
/// conditions and assignments as the SELECT they become.
fn expression_sql(expr: &Value) -> Option<String> {
    let query = expr.get("query")?.as_str()?;
    match expr.get("parseMode").and_then(Value::as_u64).unwrap_or(0) {
        0 => Some(query.to_string()),
        2 => Some(format!("SELECT {query}")),
        _ => {
            let (_, value) = query.split_once(":=").or_else(|| query.split_once('='))?;
            Some(format!("SELECT {value}"))
        }
    }
}

/// The statements of SQL found inside a body, with lines counted from `first_line`. SQL the
/// parser refuses here would fail when it runs, so it has nothing to check.
fn nested(sql: &str, first_line: usize) -> Vec<Statement> {
    source::statements(sql)
        .unwrap_or_default()
        .into_iter()
        .map(|statement| Statement {
            line: first_line + statement.line - 1,
            ..statement
        })
        .collect()
}

/// Line in the file of the first line of `body`, found in its statement's text; the
/// statement's line when the body is quoted in a way that changed it.
fn body_line(statement_text: &str, body: &str, statement_line: usize) -> usize {
    match statement_text.find(body) {
        Some(offset) if !body.is_empty() => {
            statement_line + source::line_of(statement_text, offset) - 1
        }
        _ => statement_line,
    }
}

fn has_execute_token(body: &str) -> bool {
    pg_query::scan_tokens(body).is_ok_and(|scan| {
        scan.iter()
            .any(|token| token.token == Token::Execute as i32)
    })
}

/// The names of functions called in `text`: each identifier followed by `(`, with its schema
/// when it has one, as `schema.name` keys. Reading tokens sees every call, wherever the parse
/// tree hides it; string constants (function bodies) are single tokens and stay unread.
pub(super) fn called_names(text: &str) -> Vec<String> {
    let Ok(scan) = pg_query::scan_tokens(text) else {
        return Vec::new();
    };
    let word = |index: usize| -> Option<String> {
        let token = scan.get(index)?;
        let is_name = token.token == Token::Ident as i32 || token.keyword_kind != 0;
        let raw = text.get(usize::try_from(token.start).ok()?..usize::try_from(token.end).ok()?)?;
        is_name.then(|| identifier(raw))
    };
    let is = |index: usize, token: Token| scan.get(index).is_some_and(|t| t.token == token as i32);
    (0..scan.len())
        .filter(|&i| is(i + 1, Token::Ascii40))
        .filter_map(|i| {
            let name = word(i)?;
            let schema = match i.checked_sub(2) {
                Some(s) if is(i - 1, Token::Ascii46) => word(s).unwrap_or_default(),
                _ => String::new(),
            };
            Some(table_key(&schema, &name))
        })
        .collect()
}

/// An identifier as PostgreSQL folds it: quoted ones keep their case.
pub(super) fn identifier(raw: &str) -> String {
    match raw.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
        Some(quoted) => quoted.replace("\"\"", "\""),
        None => raw.to_ascii_lowercase(),
    }
}

pub(super) fn routine_key(s: &CreateFunctionStmt) -> String {
    let parts: Vec<&str> = s.funcname.iter().map(string_value).collect();
    match parts.as_slice() {
        [.., schema, name] => table_key(schema, name),
        [name] => table_key("", name),
        [] => String::new(),
    }
}

fn def_elem_string<'a>(options: &'a [pg_query::protobuf::Node], name: &str) -> Option<&'a str> {
    options.iter().find_map(|option| match &option.node {
        Some(NodeEnum::DefElem(d)) if d.defname == name => match d.arg.as_deref()?.node.as_ref()? {
            NodeEnum::String(s) => Some(s.sval.as_str()),
            _ => None,
        },
        _ => None,
    })
}

/// The body of `AS 'body'` (a `List` of one string; C functions add a link symbol).
fn as_body(d: &DefElem) -> Option<&str> {
    match d.arg.as_deref()?.node.as_ref()? {
        NodeEnum::List(list) => list.items.first().map(string_value),
        NodeEnum::String(s) => Some(s.sval.as_str()),
        _ => None,
    }
}
