//! §2.3, §6.4: full-text search stems each row in its own language, through the GIN index.

use tokio_postgres::Client;

use crate::{bound, new_policy, tenant};

/// Titles of the policies a query finds in `language` (None: in every language at once).
async fn found(session: &Client, language: Option<&str>, query: &str) -> Vec<String> {
    let rows = match language {
        Some(language) => {
            session
                .query(
                    "SELECT title FROM policies WHERE language = $1 \
                     AND search_vector @@ maturion.search_query($1, $2) ORDER BY title",
                    &[&language, &query],
                )
                .await
        }
        None => {
            session
                .query(
                    "SELECT title FROM policies WHERE maturion.search_matches(search_vector, language, $1) \
                     ORDER BY title",
                    &[&query],
                )
                .await
        }
    };
    rows.unwrap().iter().map(|row| row.get(0)).collect()
}

#[tokio::test]
async fn search_stems_each_policy_in_its_own_language() {
    let db = maturion_testing::migrated_database().await;
    let alpha = tenant(&db, "Alpha").await;
    let session = bound(&db, &alpha).await;
    for (title, content, language) in [
        (
            "English",
            "Employees protect the systems they are running.",
            "en",
        ),
        (
            "Français",
            "Les politiques de sécurité protègent les systèmes informatiques.",
            "fr",
        ),
        (
            "Deutsch",
            "Die Richtlinien schützen die Systeme der Mitarbeiter.",
            "de",
        ),
        (
            "Español",
            "Las políticas protegen los sistemas de información.",
            "es",
        ),
        (
            "Português",
            "As políticas protegem os sistemas de informação.",
            "pt",
        ),
        (
            "Nederlands",
            "De richtlijnen beschermen de informatiesystemen van medewerkers.",
            "nl",
        ),
        ("Unknown", "Policies running everywhere.", "xx"),
    ] {
        new_policy(&session, &alpha, title, content, language).await;
    }
    // Each language finds its own inflected forms from another form of the word.
    for (language, query, title) in [
        ("en", "run", "English"),
        ("en", "employee", "English"),
        ("fr", "politique", "Français"),
        ("fr", "système", "Français"),
        ("de", "Richtlinie", "Deutsch"),
        ("de", "Mitarbeiters", "Deutsch"),
        ("es", "política", "Español"),
        ("pt", "política", "Português"),
        ("nl", "richtlijn", "Nederlands"),
        ("nl", "medewerker", "Nederlands"),
    ] {
        assert_eq!(
            found(&session, Some(language), query).await,
            [title],
            "{language}: {query}"
        );
    }
    // Without a stemmer (simple), only the word as written matches.
    assert!(found(&session, Some("xx"), "run").await.is_empty());
    assert_eq!(found(&session, Some("xx"), "running").await, ["Unknown"]);
    // Across languages, each row matches in its own: French "politique" and Spanish "políticas"
    // share the stem "polit", but "politique" read in Spanish is not "polit".
    assert_eq!(found(&session, None, "politique").await, ["Français"]);
    assert_eq!(
        found(&session, None, "políticas").await,
        ["Español", "Português"]
    );
    assert_eq!(found(&session, None, "richtlijn").await, ["Nederlands"]);
    assert_eq!(found(&session, None, "Richtlinie").await, ["Deutsch"]);
    // Title words weigh more than content words.
    let ranked: Vec<String> = session
        .query(
            "SELECT title FROM policies WHERE search_vector @@ maturion.multilingual_search_query('deutsch OR richtlinien') \
             ORDER BY ts_rank(search_vector, maturion.multilingual_search_query('deutsch OR richtlinien')) DESC",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(ranked.first().map(String::as_str), Some("Deutsch"));
}

/// As the application, under row-level security: the bootstrap marks tsvector @@ tsquery
/// (and pg_trgm's word similarity) LEAKPROOF, without which the planner may not use the index
/// for a query's own condition.
#[tokio::test]
async fn searches_use_the_gin_index_under_row_level_security() {
    let db = maturion_testing::migrated_database().await;
    let alpha = tenant(&db, "Alpha").await;
    let writer = bound(&db, &alpha).await;
    // Enough policies of one organisation that its tenant index does not narrow a search.
    writer
        .execute(
            "INSERT INTO policies (organisation_id, title, content) \
             SELECT $1, 'Policy ' || n, 'Generic text number ' || n FROM generate_series(1, 2000) n",
            &[&alpha.organisation.as_uuid()],
        )
        .await
        .unwrap();
    new_policy(&writer, &alpha, "Acceptable use", "Rules.", "en").await;
    writer.batch_execute("COMMIT").await.unwrap();
    db.admin()
        .await
        .batch_execute("ANALYZE policies")
        .await
        .unwrap();
    let session = bound(&db, &alpha).await;
    // A small table is cheaper to scan whole; what matters is that the index may serve.
    session
        .batch_execute("SET LOCAL enable_seqscan = off")
        .await
        .unwrap();
    for (query, index) in [
        (
            "SELECT id FROM policies WHERE maturion.search_matches(search_vector, language, 'rules')",
            "idx_policies_search",
        ),
        (
            "SELECT id FROM policies WHERE language = 'en' AND search_vector @@ maturion.search_query('en', 'rule')",
            "idx_policies_search",
        ),
    ] {
        let plan: Vec<String> = session
            .query(&format!("EXPLAIN {query}"), &[])
            .await
            .unwrap()
            .iter()
            .map(|row| row.get(0))
            .collect();
        assert!(plan.iter().any(|line| line.contains(index)), "{query}:\n{}", plan.join("\n"));
    }
    // The fuzzy title match of the API's search (pg_trgm's word similarity, both ways) is
    // marked too, once the migrations brought it; with 2 000 rows the planner still prefers
    // the tenant index, so the mark itself is what is checked here.
    let unmarked: Vec<String> = session
        .query(
            "SELECT p.oid::regprocedure::text FROM pg_proc p \
             WHERE p.oid IN ('public.word_similarity_op(text, text)'::regprocedure, \
                             'public.word_similarity_commutator_op(text, text)'::regprocedure, \
                             'pg_catalog.ts_match_vq(tsvector, tsquery)'::regprocedure) \
               AND NOT p.proleakproof",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert!(unmarked.is_empty(), "not LEAKPROOF: {unmarked:?}");
}
