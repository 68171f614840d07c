//! The first organisation of an empty database, as a first start makes it.

use std::time::Duration;

use maturion_tenancy::provision::create_first_organisation;

const LIFETIME: Duration = Duration::from_secs(3600);

/// Several first starts at once, as the maintenance role: one organisation, made by one of
/// them; the others, and any later start, make none.
#[tokio::test]
async fn the_first_organisation_is_made_once_even_by_concurrent_starts() {
    let db = maturion_testing::migrated_database().await;
    let mut starts = Vec::new();
    for start in 0..4 {
        let mut client = db.admin().await;
        client
            .batch_execute(&format!("SET ROLE {}", maturion_schema::MAINTENANCE_ROLE))
            .await
            .unwrap();
        starts.push(tokio::spawn(async move {
            let email = format!("admin{start}@demo.example");
            create_first_organisation(&mut client, "Demo", &email, "Admin", LIFETIME)
                .await
                .unwrap()
        }));
    }
    let mut made = Vec::new();
    for start in starts {
        made.extend(start.await.unwrap());
    }
    assert_eq!(made.len(), 1, "{made:?}");

    let admin = db.admin().await;
    let organisations: Vec<uuid::Uuid> = admin
        .query("SELECT id FROM organisations", &[])
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(organisations, [made[0].organisation_id.as_uuid()]);

    let mut later = db.admin().await;
    let again =
        create_first_organisation(&mut later, "Demo", "late@demo.example", "Late", LIFETIME)
            .await
            .unwrap();
    assert!(again.is_none(), "{again:?}");
}
