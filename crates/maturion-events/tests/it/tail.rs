use std::time::Duration;

use maturion_events::{Tail, TailFilter};

use crate::support::{self, payload_n};
use maturion_testing::organisation_with_admin;

#[tokio::test]
async fn tail_follows_new_events_with_filters() {
    let db = support::database().await;
    let app = support::app(&db, 2);
    let alpha = organisation_with_admin(&db.admin().await, "Alpha")
        .await
        .unwrap();
    let beta = organisation_with_admin(&db.admin().await, "Beta")
        .await
        .unwrap();
    support::publish(&app, &alpha, "risk.created", 0).await;

    let filter = TailFilter {
        event_types: vec!["risk.*".into()],
        organisation_id: Some(alpha.organisation),
    };
    let mut tail = Tail::start(&support::admin_url(&db), &filter, false)
        .await
        .unwrap();
    assert!(
        tail.poll().await.unwrap().is_empty(),
        "from now: the past is not shown"
    );

    support::publish(&app, &alpha, "risk.created", 1).await;
    support::publish(&app, &alpha, "policy.created", 2).await;
    support::publish(&app, &beta, "risk.created", 3).await;
    support::publish(&app, &alpha, "risk.updated", 4).await;
    let mut seen = Vec::new();
    while seen.len() < 2 {
        let events = tail.next(Duration::from_secs(5)).await.unwrap();
        assert!(!events.is_empty(), "tail timed out");
        seen.extend(
            events
                .iter()
                .map(|item| payload_n(&item.as_ref().unwrap().0)),
        );
    }
    assert_eq!(seen, [1, 4]);
    tail.close().await.unwrap();

    let mut everything = Tail::start(&support::admin_url(&db), &TailFilter::default(), true)
        .await
        .unwrap();
    let mut all: Vec<i64> = everything
        .poll()
        .await
        .unwrap()
        .iter()
        .map(|item| payload_n(&item.as_ref().unwrap().0))
        .collect();
    all.sort();
    assert_eq!(all, [0, 1, 2, 3, 4]);
}
