//! The shared patterns over HTTP, on the reference module's `policies` (versioned, workflow,
//! retention, searchable): what the route table offers because of the table's shape.

use serde_json::{json, Value};

use crate::api::{Api, Reply};

const POLICIES: &str = "/v1/policies";

impl Api {
    /// A new policy of A, as answered.
    async fn new_policy(&self, title: &str, content: &str, language: &str) -> Value {
        let created = self
            .as_a(
                "POST",
                POLICIES,
                Some(&json!({"title": title, "content": content, "language": language})),
            )
            .await;
        assert_eq!(created.status, 201, "{created:?}");
        created.body
    }

    /// A PATCH with an optional If-Match: status, ETag, Content-Location and body.
    async fn patch(
        &self,
        id: &str,
        etag: Option<&str>,
        body: &Value,
    ) -> (u16, Option<String>, Option<String>, Value) {
        let mut request = self
            .server
            .http
            .patch(format!("{}{POLICIES}/{id}", self.server.url))
            .bearer_auth(self.a.token.expose())
            .json(body);
        if let Some(etag) = etag {
            request = request.header("if-match", etag);
        }
        let response = request.send().await.unwrap();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_owned())
        };
        let (etag, location) = (header("etag"), header("content-location"));
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap();
        (status, etag, location, body)
    }

    /// The status of a transition sent with an If-Match.
    async fn move_with_if_match(&self, moves: &str, etag: &str, to: &str) -> u16 {
        let response = self
            .server
            .http
            .post(format!("{}{moves}", self.server.url))
            .bearer_auth(self.a.token.expose())
            .header("if-match", etag)
            .json(&json!({ "to": to }))
            .send()
            .await
            .unwrap();
        response.status().as_u16()
    }

    async fn etag_of(&self, id: &str) -> String {
        let response = self
            .server
            .http
            .get(format!("{}{POLICIES}/{id}", self.server.url))
            .bearer_auth(self.a.token.expose())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200);
        response.headers()["etag"].to_str().unwrap().to_owned()
    }

    async fn versions(&self, id: &str) -> Vec<(String, i64, bool)> {
        let listed = self
            .as_a("GET", &format!("{POLICIES}/{id}/versions"), None)
            .await;
        assert_eq!(listed.status, 200, "{listed:?}");
        listed.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| {
                (
                    v["id"].as_str().unwrap().to_owned(),
                    v["version_number"].as_i64().unwrap(),
                    v["is_current_version"].as_bool().unwrap(),
                )
            })
            .collect()
    }

    async fn search(&self, query: &str) -> Reply {
        self.as_a("GET", &format!("{POLICIES}?{query}"), None).await
    }
}

fn refused(reply: &Reply, status: u16, field: &str) {
    assert_eq!(
        (reply.status, reply.body["field"].as_str()),
        (status, Some(field)),
        "{reply:?}"
    );
}

#[tokio::test]
async fn a_change_of_the_current_version_is_its_next_version_and_versions_list_them() {
    let api = Api::start().await;
    let first = api.new_policy("Backups", "Daily.", "en").await;
    let first_id = first["id"].as_str().unwrap().to_owned();
    let etag = api.etag_of(&first_id).await;

    let (status, next_etag, location, second) = api
        .patch(&first_id, Some(&etag), &json!({"content": "Hourly."}))
        .await;
    assert_eq!(status, 200, "{second}");
    let second_id = second["id"].as_str().unwrap().to_owned();
    assert_ne!(second_id, first_id);
    let listed_ids = |reply: Reply| -> Vec<String> {
        assert_eq!(reply.status, 200, "{reply:?}");
        let items = reply.body["items"].as_array().unwrap().iter();
        items
            .map(|item| item["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let listed = listed_ids(api.as_a("GET", POLICIES, None).await);
    assert_eq!(
        listed,
        std::slice::from_ref(&second_id),
        "a list is of current versions"
    );
    let older = format!("{POLICIES}?is_current_version=eq.false");
    let listed = listed_ids(api.as_a("GET", &older, None).await);
    assert_eq!(
        listed,
        std::slice::from_ref(&first_id),
        "unless it asks about versions"
    );
    assert_eq!(
        (
            &second["version_number"],
            &second["parent_version_id"],
            &second["content"],
            &second["title"]
        ),
        (
            &json!(2),
            &json!(first_id),
            &json!("Hourly."),
            &json!("Backups")
        )
    );
    assert_eq!(location, Some(format!("{POLICIES}/{second_id}")));
    assert_eq!(
        next_etag.unwrap(),
        format!("\"{}\"", second["updated_at"].as_str().unwrap())
    );
    let history = vec![(first_id.clone(), 1, false), (second_id.clone(), 2, true)];
    assert_eq!(api.versions(&first_id).await, history);
    assert_eq!(api.versions(&second_id).await, history);

    // The old version is kept as it was: a change of it is refused, 412 when If-Match named
    // it, 409 otherwise, and nothing is made.
    let (status, _, _, body) = api
        .patch(&first_id, Some(&etag), &json!({"content": "Weekly."}))
        .await;
    assert_eq!(
        (status, body["field"].as_str()),
        (412, Some("If-Match")),
        "{body}"
    );
    let (status, _, _, body) = api
        .patch(&first_id, None, &json!({"content": "Weekly."}))
        .await;
    assert_eq!(
        (status, body["field"].as_str()),
        (409, Some("id")),
        "{body}"
    );
    let (status, _, _, body) = api
        .patch(&first_id, None, &json!({"is_legally_protected": true}))
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(api.versions(&first_id).await, history);

    // Retention changes in place: the same version, no new one.
    let (status, _, _, kept) = api
        .patch(
            &second_id,
            None,
            &json!({"retention_until": "2030-01-01T00:00:00Z", "retention_reason": "ISO 27001 A.5.33", "is_legally_protected": true}),
        )
        .await;
    assert_eq!((status, &kept["id"]), (200, &json!(second_id)), "{kept}");
    assert_eq!(kept["retention_reason"], "ISO 27001 A.5.33");
    // New content with retention makes the next version, which keeps the retention.
    let (status, _, _, third) = api
        .patch(
            &second_id,
            None,
            &json!({"title": "Backups and restores", "retention_reason": "ISO 27001 A.8.13"}),
        )
        .await;
    assert_eq!(
        (status, &third["version_number"]),
        (200, &json!(3)),
        "{third}"
    );
    assert_eq!(
        (&third["retention_reason"], &third["retention_until"]),
        (&json!("ISO 27001 A.8.13"), &kept["retention_until"])
    );

    // Protection carries over too: the database keeps the version from deletion.
    let third_id = third["id"].as_str().unwrap();
    let kept_back = api
        .as_a("DELETE", &format!("{POLICIES}/{third_id}"), None)
        .await;
    assert_eq!(kept_back.status, 409, "{kept_back:?}");
    // The bookkeeping is the server's.
    for field in [
        "version_number",
        "is_current_version",
        "parent_version_id",
        "status",
    ] {
        let (status, _, _, body) = api.patch(third_id, None, &json!({ field: null })).await;
        assert_eq!(
            (status, body["field"].as_str()),
            (422, Some(field)),
            "{body}"
        );
    }
    let listed = api
        .as_a(
            "GET",
            &format!("{POLICIES}/{third_id}/versions?include_deleted=maybe"),
            None,
        )
        .await;
    refused(&listed, 400, "include_deleted");
    let nobody = api
        .as_a(
            "GET",
            &format!("{POLICIES}/{}/versions", uuid::Uuid::now_v7()),
            None,
        )
        .await;
    assert_eq!(nobody.status, 404);
    refused(
        &api.as_a("GET", &format!("{POLICIES}/not-a-uuid/versions"), None)
            .await,
        400,
        "id",
    );
}

#[tokio::test]
async fn concurrent_changes_of_one_version_make_exactly_one_next_version() {
    let api = std::sync::Arc::new(Api::start().await);
    for with_if_match in [true, false] {
        let first = api.new_policy("Access control", "Version one.", "en").await;
        let first_id = first["id"].as_str().unwrap().to_owned();
        let etag = api.etag_of(&first_id).await;
        let mut editors = Vec::new();
        for editor in 0..8 {
            let (api, id, etag) = (api.clone(), first_id.clone(), etag.clone());
            editors.push(tokio::spawn(async move {
                let etag = with_if_match.then_some(etag);
                let body = json!({ "content": format!("Edit {editor}.") });
                api.patch(&id, etag.as_deref(), &body).await
            }));
        }
        let mut statuses = Vec::new();
        for editor in editors {
            let (status, _, _, body) = editor.await.unwrap();
            assert!(status < 500, "{status} {body}");
            statuses.push(status);
        }
        let loser = if with_if_match { 412 } else { 409 };
        assert_eq!(
            statuses.iter().filter(|s| **s == 200).count(),
            1,
            "one edit wins: {statuses:?}"
        );
        assert!(
            statuses.iter().all(|s| *s == 200 || *s == loser),
            "{statuses:?}"
        );
        let versions = api.versions(&first_id).await;
        assert_eq!(versions.len(), 2, "{versions:?}");
        assert_eq!(
            versions.iter().filter(|(_, _, current)| *current).count(),
            1,
            "{versions:?}"
        );
    }
    // And the database agrees: no entity of A has two current versions.
    let admin = api.db.admin().await;
    let forks: i64 = admin
        .query_one(
            "SELECT count(*) FROM policies p WHERE p.is_current_version AND EXISTS \
             (SELECT FROM policies n WHERE n.parent_version_id = p.id)",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(forks, 0);
}

#[tokio::test]
async fn statuses_move_only_along_the_databases_graph() {
    let api = Api::start().await;
    let policy = api
        .new_policy("Incident response", "Call the CISO.", "en")
        .await;
    let id = policy["id"].as_str().unwrap();
    let moves = format!("{POLICIES}/{id}/transitions");
    let (_, resources) = api.index().await;
    let before = api.snapshot(api.a.organisation.as_uuid(), &resources).await;

    let skipped = api
        .as_a("POST", &moves, Some(&json!({"to": "approved"})))
        .await;
    refused(&skipped, 409, "to");
    assert!(
        skipped.body["detail"]
            .as_str()
            .unwrap()
            .ends_with("allowed: pending_review"),
        "{skipped:?}"
    );
    let same = api
        .as_a("POST", &moves, Some(&json!({"to": "draft"})))
        .await;
    refused(&same, 409, "to");
    assert!(
        same.body["detail"]
            .as_str()
            .unwrap()
            .contains("allowed: pending_review"),
        "{same:?}"
    );
    refused(
        &api.as_a("POST", &moves, Some(&json!({"to": "published"})))
            .await,
        422,
        "to",
    );
    refused(
        &api.as_a("POST", &moves, Some(&json!({"to": 1}))).await,
        422,
        "to",
    );
    refused(&api.as_a("POST", &moves, Some(&json!({}))).await, 422, "to");
    refused(
        &api.as_a(
            "POST",
            &moves,
            Some(&json!({"to": "pending_review", "why": "x"})),
        )
        .await,
        422,
        "why",
    );
    refused(
        &api.raw(
            Some(api.a.token.expose()),
            "POST",
            &moves,
            Some(b"{\"to\": ".to_vec()),
        )
        .await,
        400,
        "body",
    );
    refused(
        &api.as_a(
            "POST",
            &format!("{POLICIES}/not-a-uuid/transitions"),
            Some(&json!({"to": "pending_review"})),
        )
        .await,
        400,
        "id",
    );
    // The status is not written any other way.
    refused(
        &api.as_a(
            "PATCH",
            &format!("{POLICIES}/{id}"),
            Some(&json!({"status": "approved"})),
        )
        .await,
        422,
        "status",
    );
    refused(
        &api.as_a(
            "POST",
            POLICIES,
            Some(&json!({"title": "Born approved", "status": "approved"})),
        )
        .await,
        422,
        "status",
    );
    let stale = api
        .move_with_if_match(&moves, "\"2000-01-01T00:00:00+00:00\"", "pending_review")
        .await;
    assert_eq!(stale, 412, "a stale If-Match");
    assert_eq!(
        api.snapshot(api.a.organisation.as_uuid(), &resources).await,
        before,
        "refused moves change nothing"
    );

    let current = api.etag_of(id).await;
    let moved = api
        .move_with_if_match(&moves, &current, "pending_review")
        .await;
    assert_eq!(moved, 200, "the current version in If-Match");
    for to in [
        "rejected",
        "draft",
        "pending_review",
        "approved",
        "archived",
    ] {
        let moved = api.as_a("POST", &moves, Some(&json!({ "to": to }))).await;
        assert_eq!(
            (moved.status, &moved.body["status"]),
            (200, &json!(to)),
            "{moved:?}"
        );
        assert_eq!(
            moved.body["status_changed_by"],
            json!(api.a.user.to_string())
        );
    }
    let final_move = api
        .as_a("POST", &moves, Some(&json!({"to": "draft"})))
        .await;
    refused(&final_move, 409, "to");
    assert!(
        final_move.body["detail"]
            .as_str()
            .unwrap()
            .contains("final"),
        "{final_move:?}"
    );
    let history = api
        .as_a("GET", &format!("{POLICIES}/{id}/history"), None)
        .await;
    assert_eq!(
        history.body["items"].as_array().unwrap().len(),
        7,
        "{history:?}"
    );
}

#[tokio::test]
async fn a_search_finds_each_row_by_the_inflections_of_its_own_language() {
    let api = Api::start().await;
    // Titles unlike the words searched, so that only the content's stems match.
    let rows = [
        (
            "Charte des accès",
            "Les utilisateurs doivent changer leurs mots de passe régulièrement.",
            "fr",
        ),
        (
            "Zugangsrichtlinie",
            "Die Benutzer müssen ihre Passwörter regelmäßig ändern.",
            "de",
        ),
        (
            "Access rules",
            "Users are changing their passwords every ninety days.",
            "en",
        ),
        (
            "Normas de acceso",
            "Los usuarios cambian sus contraseñas periódicamente.",
            "es",
        ),
        (
            "Regras de acesso",
            "Os utilizadores alteram as suas senhas regularmente.",
            "pt",
        ),
        (
            "Toegangsregels",
            "Gebruikers wijzigen hun wachtwoorden regelmatig.",
            "nl",
        ),
        ("Clean desk", "Nothing is left on a desk overnight.", "en"),
    ];
    for (title, content, language) in rows {
        api.new_policy(title, content, language).await;
    }
    let titles = |reply: &Reply| -> Vec<String> {
        reply.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["title"].as_str().unwrap().to_owned())
            .collect()
    };
    // Each by an inflection that only its own language's stemmer relates to the text's.
    for (query, expected) in [
        ("search=changeront", "Charte des accès"),
        ("search=r%C3%A9gulier", "Charte des accès"),
        ("search=Passwort", "Zugangsrichtlinie"),
        ("search=changes&language=en", "Access rules"),
        ("search=contrase%C3%B1a", "Normas de acceso"),
        ("search=senha", "Regras de acesso"),
        ("search=wachtwoord", "Toegangsregels"),
    ] {
        let found = api.search(query).await;
        assert_eq!(found.status, 200, "{found:?}");
        assert_eq!(titles(&found), [expected], "{query}: {found:?}");
        let best = &found.body["items"][0];
        assert!(best["_rank"].as_f64().unwrap() > 0.0, "{best}");
        assert!(
            best["_snippet"].as_str().unwrap().contains("<mark>"),
            "{best}"
        );
        assert_eq!(found.body["next_cursor"], Value::Null);
    }
    // Without a language, every row is read in its own: English "changes" and French
    // "changer" share a stem.
    let everywhere = api.search("search=changes").await;
    let mut found = titles(&everywhere);
    found.sort();
    assert_eq!(
        found,
        ["Access rules", "Charte des accès"],
        "{everywhere:?}"
    );
    let french = api.search("search=changing&language=fr").await;
    assert_eq!(titles(&french), Vec::<String>::new(), "{french:?}");
    // A typo in a title still finds it (trigram similarity), ranked by it.
    let fuzzy = api.search("search=acess").await;
    assert!(
        titles(&fuzzy).contains(&"Access rules".to_owned()),
        "{fuzzy:?}"
    );
    // With the other filters and the limit.
    let filtered = api
        .search("search=desk&language=en&status=eq.draft&limit=1")
        .await;
    assert_eq!(titles(&filtered), ["Clean desk"], "{filtered:?}");
    let none = api.search("search=desk&status=eq.approved").await;
    assert_eq!(titles(&none), Vec::<String>::new());
    let limited = api.search("search=users%20OR%20desk&limit=1").await;
    assert_eq!(
        limited.body["items"].as_array().unwrap().len(),
        1,
        "{limited:?}"
    );
    // Text is escaped in the snippet: only the marks are HTML.
    api.new_policy("Markup", "Keep x < y & y > z in scripts.", "en")
        .await;
    let escaped = api.search("search=scripts").await;
    let snippet = escaped.body["items"][0]["_snippet"].as_str().unwrap();
    assert!(
        snippet.contains("&lt;")
            && snippet.contains("&amp;")
            && snippet.contains("&gt;")
            && snippet.contains("<mark>"),
        "{snippet}"
    );

    // Bad input: refused naming the parameter, never a 5xx.
    let long = "a".repeat(201);
    for (query, status, field) in [
        ("search=", 422, "search"),
        ("search=%20%20", 422, "search"),
        (&format!("search={long}") as &str, 422, "search"),
        ("search=a%07b", 422, "search"),
        ("search=x&language=FRENCH", 422, "language"),
        ("language=fr", 400, "language"),
        ("search=x&search=y", 400, "search"),
        ("search=x&cursor=abc", 400, "cursor"),
        ("search=x&order=created_at.desc", 400, "order"),
        ("search=x&limit=0", 400, "limit"),
    ] {
        refused(&api.search(query).await, status, field);
    }
    // Query syntax of every kind is only ever a query.
    for query in [
        "search=%22unclosed",
        "search=-",
        "search=OR",
        "search=%27%3B%20drop",
        "search=!!%26%7C",
    ] {
        let reply = api.search(query).await;
        assert_eq!(reply.status, 200, "{query}: {reply:?}");
    }
    // Another organisation's rows are not found.
    let theirs = api
        .call(
            Some(api.b.token.expose()),
            "GET",
            "/v1/policies?search=users",
            None,
        )
        .await;
    assert_eq!((theirs.status, &theirs.body["items"]), (200, &json!([])));
}

#[tokio::test]
async fn the_openapi_document_describes_versions_transitions_and_search() {
    let api = Api::start().await;
    let document = api.call(None, "GET", "/openapi.json", None).await.body;
    let schemas = &document["components"]["schemas"];
    assert_eq!(
        schemas["policies_transition"]["properties"]["to"]["enum"],
        json!([
            "draft",
            "pending_review",
            "approved",
            "rejected",
            "archived"
        ])
    );
    assert_eq!(schemas["policies_transition"]["required"], json!(["to"]));
    assert!(schemas["policies_change"]["properties"]
        .get("status")
        .is_none());
    assert!(
        schemas.get("risks_transition").is_none(),
        "risks has no workflow"
    );
    let paths = &document["paths"];
    let transition = &paths["/v1/policies/{id}/transitions"]["post"];
    assert!(transition["responses"]["409"].is_object(), "{transition}");
    assert!(paths["/v1/policies/{id}/versions"]["get"]["responses"]["200"].is_object());
    assert!(paths.get("/v1/risks/{id}/versions").is_none());
    let list = &paths["/v1/policies"]["get"];
    let names: Vec<&str> = list["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    let mut unique = names.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), names.len(), "a parameter twice: {names:?}");
    assert!(names.contains(&"search") && names.contains(&"language"));
    let item = &list["responses"]["200"]["content"]["application/json"]["schema"]["properties"]
        ["items"]["items"];
    assert!(
        item["allOf"][1]["properties"]["_snippet"].is_object(),
        "{item}"
    );
}
