//! `/docs`: the API's page for people, served from the binary alone.

use crate::server::RunningServer;

/// The values of every `src="…"` and `href="…"` of an HTML text.
fn references(html: &str) -> Vec<String> {
    let mut found = Vec::new();
    for attribute in ["src=\"", "href=\""] {
        for (start, _) in html.match_indices(attribute) {
            let rest = &html[start + attribute.len()..];
            found.push(rest[..rest.find('"').unwrap()].to_owned());
        }
    }
    found
}

#[tokio::test]
async fn the_docs_page_and_its_assets_come_from_the_server_alone_and_the_banner_names_it() {
    let db = maturion_testing::migrated_database().await;
    let server = RunningServer::start(&db);
    let page = server.get("/docs").await;
    assert_eq!(page.status().as_u16(), 200);
    assert!(page.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let policy = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        policy.contains("default-src 'none'") && policy.contains("script-src 'self'"),
        "{policy}"
    );
    let html = page.text().await.unwrap();
    let references = references(&html);
    assert!(references.len() >= 3, "{references:?}");
    let mut script = String::new();
    for reference in &references {
        assert!(
            reference.starts_with('/') && !reference.starts_with("//"),
            "{reference} is not on this server"
        );
        let asset = server.get(reference).await;
        assert_eq!(asset.status().as_u16(), 200, "{reference}");
        let text = asset.text().await.unwrap();
        if reference.ends_with(".js") {
            script = text.clone();
        }
        assert!(
            !text.contains("http://") && !text.contains("https://"),
            "{reference}"
        );
    }
    assert!(!html.contains("http://") && !html.contains("https://"));
    assert!(script.contains("fetch(\"/openapi.json\")"), "{script}");

    let url = server.url.clone();
    let stopped = server.terminate();
    assert!(
        crate::stdout(&stopped).contains(&format!("API docs:  {url}/docs")),
        "{}",
        crate::stdout(&stopped)
    );
}
