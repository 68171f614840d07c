//! Legal holds (§10.3): an expired partition with rows of an organisation under hold is kept
//! until the hold is released; holds stay on record and cannot be changed or removed.

use maturion_maintenance::{
    legal_holds, maintain_logs, place_legal_hold, release_legal_hold, Log, Month, Outcome, Policy,
};

use crate::{database, exists, insert_audit, insert_events, now, organisation, partition};

#[tokio::test]
async fn a_held_organisation_keeps_its_expired_partitions_until_the_hold_is_released() {
    let db = database().await;
    let mut admin = db.admin().await;
    let alpha = organisation(&db, "Alpha").await;
    let beta = organisation(&db, "Beta").await;
    let now = now(&admin).await;
    let month_ago = |months: u32| {
        Month::containing(now.checked_sub_months(chrono::Months::new(months)).unwrap())
    };
    // Expired months: events of alpha and beta 15 months ago, events of beta only 20 months ago,
    // audit rows of alpha eight years ago.
    insert_events(&admin, &alpha, 2, "now() - interval '15 months'").await;
    insert_events(&admin, &beta, 1, "now() - interval '15 months'").await;
    insert_events(&admin, &beta, 1, "now() - interval '20 months'").await;
    insert_audit(&admin, &alpha, 1, "now() - interval '96 months'").await;

    let hold = place_legal_hold(
        &admin,
        alpha.organisation.as_uuid(),
        "Matter 2026-117: supplier dispute",
    )
    .await
    .unwrap();
    assert_eq!(hold.released_at, None);

    let report = maintain_logs(&mut admin, &Policy::default()).await.unwrap();
    for (log, months) in [(Log::Event, 15), (Log::Audit, 96)] {
        let name = partition(log, month_ago(months));
        assert!(
            report.outcomes.contains(&Outcome::Held {
                partition: name.clone(),
                holds: vec![hold.clone()]
            }),
            "{report}"
        );
        assert!(
            exists(&admin, &name).await,
            "{name} was dropped under a legal hold"
        );
    }
    // Beta's month without any alpha row goes as usual.
    let unheld = partition(Log::Event, month_ago(20));
    assert!(
        report
            .outcomes
            .iter()
            .any(|o| matches!(o, Outcome::Dropped { partition, .. } if *partition == unheld)),
        "{report}"
    );
    assert!(!exists(&admin, &unheld).await);

    // Kept on every run while the hold is in force; dropped by the first run after its release.
    let again = maintain_logs(&mut admin, &Policy::default()).await.unwrap();
    assert_eq!(
        again
            .outcomes
            .iter()
            .filter(|o| matches!(o, Outcome::Held { .. }))
            .count(),
        2,
        "{again}"
    );
    let released = release_legal_hold(&admin, hold.id)
        .await
        .unwrap()
        .expect("the hold was in force");
    assert!(released.released_at.is_some() && released.released_by.is_some());
    assert_eq!(
        release_legal_hold(&admin, hold.id).await.unwrap(),
        None,
        "released once"
    );
    let after = maintain_logs(&mut admin, &Policy::default()).await.unwrap();
    for (log, months) in [(Log::Event, 15), (Log::Audit, 96)] {
        assert!(
            !exists(&admin, &partition(log, month_ago(months))).await,
            "{after}"
        );
    }

    // The record of the hold stays, and cannot be rewritten or removed, even by its owner.
    assert!(legal_holds(&admin, false).await.unwrap().is_empty());
    assert_eq!(legal_holds(&admin, true).await.unwrap(), [released]);
    for sql in [
        "UPDATE maturion.legal_holds SET reason = 'nothing to see'",
        "UPDATE maturion.legal_holds SET released_at = NULL, released_by = NULL",
        "DELETE FROM maturion.legal_holds",
        "TRUNCATE maturion.legal_holds",
    ] {
        let error = admin.batch_execute(sql).await.expect_err(sql);
        assert_eq!(
            error.code().map(|c| c.code()),
            Some("MT405"),
            "{sql}: {error}"
        );
    }
}

#[tokio::test]
async fn a_hold_needs_a_known_organisation_and_a_reason() {
    let db = database().await;
    let admin = db.admin().await;
    let alpha = organisation(&db, "Alpha").await;
    let unknown = uuid::Uuid::now_v7();
    for (organisation, reason) in [
        (unknown, "Matter 1"),
        (alpha.organisation.as_uuid(), "  "),
        (alpha.organisation.as_uuid(), ""),
    ] {
        let error = place_legal_hold(&admin, organisation, reason)
            .await
            .expect_err(reason);
        assert!(error.to_string().contains("legal hold"), "{error}");
    }
    assert!(
        legal_holds(&admin, true).await.unwrap().is_empty(),
        "nothing was written"
    );
    // The application cannot see or place holds.
    let app = db.connect(maturion_schema::APP_ROLE).await;
    assert!(app
        .query("SELECT * FROM maturion.legal_holds", &[])
        .await
        .is_err());
    assert!(app
        .query(
            "SELECT maturion.place_legal_hold($1, 'x')",
            &[&alpha.organisation]
        )
        .await
        .is_err());
}
