//! Recognises the one fail-closed tenant check a policy expression may be:
//!
//! ```sql
//! organisation_id = (SELECT maturion.current_organisation_id())
//! ```
//!
//! the organisation of the transaction's verified tenant binding (NULL when unbound, so nothing
//! matches), read once per statement. Expressions are compared as PostgreSQL prints them back
//! (`pg_get_expr`), which adds parentheses and a column alias to the sub-select and names the
//! function's schema (the checker's session does not have `maturion` on its search path), so
//! two spellings of the same expression print the same. Comparison is on tokens, ignoring
//! case, whitespace, parentheses and the alias.

/// The tenant binding as the fix messages spell it.
pub(crate) const TENANT_BINDING: &str = "(SELECT maturion.current_organisation_id())";

/// How PostgreSQL 15 prints [`TENANT_BINDING`].
const TENANT_BINDING_PRINTED: &str =
    "( SELECT maturion.current_organisation_id() AS current_organisation_id)";

/// Why `expression` (as printed by `pg_get_expr`) is not the fail-closed comparison of
/// `column` with the tenant binding, or `None` when it is. Either operand order is accepted.
pub(crate) fn defect(expression: &str, column: &str) -> Option<&'static str> {
    let found = tokens(expression);
    let binding = tokens(TENANT_BINDING_PRINTED);
    let (column, equals) = (vec![column.to_owned()], vec!["=".to_owned()]);
    if found == [&column[..], &equals, &binding].concat()
        || found == [&binding[..], &equals, &column].concat()
    {
        return None;
    }
    let has = |token: &str| found.iter().any(|found| found == token);
    let qualified = found
        .windows(3)
        .any(|w| w == ["maturion", ".", "current_organisation_id"]);
    Some(if has("current_setting") {
        "trusts a setting (current_setting), which any role may set: one SQL injection would read and write every tenant"
    } else if !has("current_organisation_id") {
        "does not compare with the tenant binding at all, so it lets through rows of other organisations"
    } else if !qualified {
        "calls a current_organisation_id() that is not maturion's (or not by its schema), so it need not be the verified binding"
    } else if !has("select") {
        "reads the binding once per row; wrapped in (SELECT …) it runs once per statement"
    } else {
        "is not the plain comparison with the tenant binding; permissive policies are ORed together, so any extra condition can open the table"
    })
}

/// Lower-cased tokens of an SQL expression without whitespace, parentheses and `AS alias`.
/// Quoted literals and identifiers are kept whole, quotes included.
fn tokens(expression: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut chars = expression.chars().peekable();
    while let Some(first) = chars.next() {
        let mut token = String::from(first);
        match first {
            c if c.is_whitespace() || c == '(' || c == ')' => continue,
            '\'' | '"' => {
                // A doubled quote stands for one quote character and does not end the token.
                while let Some(c) = chars.next() {
                    token.push(c);
                    if c == first {
                        match chars.next_if_eq(&first) {
                            Some(quote) => token.push(quote),
                            None => break,
                        }
                    }
                }
            }
            c if c.is_alphanumeric() || c == '_' => {
                while let Some(c) = chars.next_if(|c| c.is_alphanumeric() || *c == '_' || *c == '$')
                {
                    token.push(c);
                }
                token = token.to_lowercase();
            }
            c if is_operator(c) => {
                while let Some(c) = chars.next_if(|c| is_operator(*c)) {
                    token.push(c);
                }
            }
            _ => {}
        }
        tokens.push(token);
    }
    // `AS "nullif"`: the name PostgreSQL gives the sub-select's column means nothing here.
    let mut kept = Vec::with_capacity(tokens.len());
    let mut tokens = tokens.into_iter();
    while let Some(token) = tokens.next() {
        if token == "as" {
            tokens.next();
        } else {
            kept.push(token);
        }
    }
    kept
}

fn is_operator(c: char) -> bool {
    "+-*/<>=~!@#%^&|`?:".contains(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expressions below are what PostgreSQL 15 prints back for policies written in various ways.
    const CANONICAL: &str = "(organisation_id = ( SELECT maturion.current_organisation_id() AS current_organisation_id))";

    #[test]
    fn accepts_the_fail_closed_form_as_printed() {
        assert_eq!(defect(CANONICAL, "organisation_id"), None);
        let root = "(id = ( SELECT maturion.current_organisation_id() AS current_organisation_id))";
        assert_eq!(defect(root, "id"), None);
    }

    #[test]
    fn ignores_case_whitespace_parentheses_alias_and_operand_order() {
        let spellings = [
            "ORGANISATION_ID=(select MATURION.current_organisation_id())",
            "(organisation_id = ( SELECT maturion.current_organisation_id() AS org))",
            "(( SELECT maturion.current_organisation_id() AS current_organisation_id) = organisation_id)",
        ];
        for spelling in spellings {
            assert_eq!(defect(spelling, "organisation_id"), None, "{spelling}");
        }
    }

    #[test]
    fn the_column_must_be_the_tenant_column() {
        assert!(defect(CANONICAL, "id").is_some());
        let other = CANONICAL.replace("organisation_id =", "owner_id =");
        assert!(defect(&other, "organisation_id")
            .unwrap()
            .contains("not the plain comparison"));
    }

    #[test]
    fn names_what_a_leaky_or_slow_policy_gets_wrong() {
        let cases = [
            ("true", "does not compare with the tenant binding"),
            ("(organisation_id = (current_setting('app.current_organisation_id'::text))::uuid)", "any role may set"),
            ("(organisation_id = ( SELECT (NULLIF(current_setting('app.current_organisation_id'::text, true), ''::text))::uuid AS \"nullif\"))", "any role may set"),
            ("(organisation_id = ( SELECT current_organisation_id() AS current_organisation_id))", "not maturion's"),
            ("(organisation_id = ( SELECT evil.current_organisation_id() AS current_organisation_id))", "not maturion's"),
            ("(organisation_id = maturion.current_organisation_id())", "once per row"),
        ];
        for (expression, expected) in cases {
            let found = defect(expression, "organisation_id")
                .unwrap_or_else(|| panic!("{expression} accepted"));
            assert!(found.contains(expected), "{expression}: {found}");
        }
        let ored = format!("({CANONICAL} OR true)");
        assert!(defect(&ored, "organisation_id").unwrap().contains("ORed"));
    }

    #[test]
    fn quoted_text_stays_whole() {
        assert_eq!(
            tokens("'It''s (x)' = \"A b\""),
            ["'It''s (x)'", "=", "\"A b\""]
        );
        assert_eq!(tokens("a::uuid AS x, B"), ["a", "::", "uuid", ",", "b"]);
    }
}
