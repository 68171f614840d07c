//! The checker against a real, migrated database: the platform schema and a well-built module
//! table are clean, and each rule reports exactly the object that was built to break it.

use maturion_check::{check, CheckOptions, Report};
use maturion_testing::{migrated_database, TestDatabase};
use tokio_postgres::Client;

#[path = "check/runtime.rs"]
mod runtime;

/// A database with the platform schema and a superuser connection to it.
async fn migrated() -> (TestDatabase, Client) {
    let database = migrated_database().await;
    let admin = database.admin().await;
    (database, admin)
}

async fn report(admin: &Client, options: &CheckOptions) -> Report {
    check(admin, options).await.expect("check runs")
}

/// `rule: object` of every violation, in report order.
async fn findings(admin: &Client) -> Vec<String> {
    findings_for(admin, &CheckOptions::default()).await
}

async fn findings_for(admin: &Client, options: &CheckOptions) -> Vec<String> {
    let report = report(admin, options).await;
    report
        .violations
        .iter()
        .map(|violation| format!("{}: {}", violation.rule, violation.object))
        .collect()
}

/// Runs `sql` as the owner role, the way a module migration does.
async fn as_owner(admin: &Client, sql: &str) {
    admin
        .batch_execute(&format!("SET ROLE maturion_owner; {sql}; RESET ROLE"))
        .await
        .unwrap_or_else(|error| panic!("{sql}\nfailed: {error:?}"));
}

/// A module table that follows every rule.
fn good_table(name: &str) -> String {
    // Constraint names are per schema (their indexes are relations): prefix the table's name.
    let short = name.rsplit('.').next().unwrap_or(name);
    format!(
        "CREATE TABLE {name} (
           id uuid PRIMARY KEY DEFAULT generate_uuidv7(),
           organisation_id uuid NOT NULL REFERENCES public.organisations (id),
           owner_id uuid NOT NULL,
           title text NOT NULL,
           created_at timestamptz NOT NULL DEFAULT now(),
           created_by uuid NOT NULL,
           updated_at timestamptz NOT NULL DEFAULT now(),
           updated_by uuid,
           deleted_at timestamptz,
           deleted_by uuid,
           CONSTRAINT {short}_tenant_key UNIQUE (organisation_id, id),
           CONSTRAINT {short}_owner_fkey FOREIGN KEY (organisation_id, owner_id) REFERENCES public.users (organisation_id, id),
           FOREIGN KEY (organisation_id, created_by) REFERENCES public.users (organisation_id, id),
           FOREIGN KEY (organisation_id, updated_by) REFERENCES public.users (organisation_id, id),
           FOREIGN KEY (organisation_id, deleted_by) REFERENCES public.users (organisation_id, id)
         );
         CREATE INDEX ON {name} (organisation_id, deleted_at);
         -- Any order of the leading columns serves the key, and so does a partial index.
         CREATE INDEX ON {name} (owner_id, organisation_id);
         CREATE INDEX ON {name} (organisation_id, created_by);
         CREATE INDEX ON {name} (organisation_id, updated_by) WHERE updated_by IS NOT NULL;
         CREATE INDEX ON {name} (organisation_id, deleted_by) WHERE deleted_by IS NOT NULL;
         SELECT maturion.enable_tenant_isolation('{name}')"
    )
}

/// `sql` with `from` replaced by `to`; panics when `from` is absent, so a variant cannot
/// silently stay the good table.
fn variant(sql: &str, from: &str, to: &str) -> String {
    assert!(sql.contains(from), "{from:?} is not in the SQL");
    sql.replacen(from, to, 1)
}

/// A role of this test only (roles are shared by the whole cluster), as app role.
struct TestRole {
    name: String,
}

impl TestRole {
    async fn create(admin: &Client, database: &TestDatabase, attributes: &str) -> Self {
        let name = format!("check_app_{}", database.name());
        admin
            .batch_execute(&format!("CREATE ROLE {name} {attributes}"))
            .await
            .expect("create role");
        Self { name }
    }

    fn options(&self) -> CheckOptions {
        CheckOptions {
            app_role: self.name.clone(),
            ..CheckOptions::default()
        }
    }

    async fn drop(self, admin: &Client) {
        admin
            .batch_execute(&format!("DROP OWNED BY {0}; DROP ROLE {0}", self.name))
            .await
            .expect("drop role");
    }
}

#[tokio::test]
async fn the_platform_schema_is_clean() {
    let (database, admin) = migrated().await;
    let report = report(&admin, &CheckOptions::default()).await;
    assert_eq!(report.violations, [], "{}", report.render_human());
    assert_eq!(report.database, database.name());
    // At least organisations, users, user_permissions, organisation_settings, audit_log, event_log.
    assert!(report.tables_checked >= 6, "{}", report.tables_checked);
    assert!(report.is_clean());
    let summary = format!("{} tables checked, no violations.\n", report.tables_checked);
    assert!(report.render_human().ends_with(&summary));
}

#[tokio::test]
async fn well_built_module_tables_are_clean_in_any_schema() {
    let (_database, admin) = migrated().await;
    as_owner(&admin, &good_table("public.good")).await;
    as_owner(
        &admin,
        &format!(
            "CREATE SCHEMA risk; {}; \
             ALTER TABLE risk.assessments ADD COLUMN good_id uuid, \
               ADD CONSTRAINT good_fkey FOREIGN KEY (organisation_id, good_id) REFERENCES public.good (organisation_id, id); \
             CREATE INDEX ON risk.assessments (organisation_id, good_id); \
             -- Per-command policies of the fail-closed form, operands either way round.
             CREATE POLICY tenant_select ON risk.assessments FOR SELECT \
               USING ((SELECT maturion.current_organisation_id()) = organisation_id); \
             -- WITH CHECK left out: PostgreSQL checks new rows with USING.
             CREATE POLICY tenant_update ON risk.assessments FOR UPDATE \
               USING (organisation_id = (SELECT maturion.current_organisation_id())); \
             -- Restrictive policies only narrow access.
             CREATE POLICY not_deleted ON risk.assessments AS RESTRICTIVE FOR SELECT USING (deleted_at IS NULL); \
             CREATE VIEW risk.open_assessments WITH (security_invoker = on) AS \
               SELECT * FROM risk.assessments WHERE deleted_at IS NULL; \
             CREATE FUNCTION risk.count_open() RETURNS bigint LANGUAGE sql SECURITY DEFINER \
               SET search_path = pg_catalog, pg_temp AS 'SELECT 1::bigint'; \
             REVOKE EXECUTE ON FUNCTION risk.count_open() FROM PUBLIC",
            good_table("risk.assessments")
        ),
    )
    .await;
    let report = report(&admin, &CheckOptions::default()).await;
    assert_eq!(report.violations, [], "{}", report.render_human());
    let platform = self::report(&migrated().await.1, &CheckOptions::default())
        .await
        .tables_checked;
    assert_eq!(report.tables_checked, platform + 2);
}

#[tokio::test]
async fn a_table_without_organisation_id_is_reported() {
    let (_database, admin) = migrated().await;
    as_owner(
        &admin,
        "CREATE TABLE public.notes (id uuid PRIMARY KEY, body text)",
    )
    .await;
    assert_eq!(
        findings(&admin).await,
        ["missing-organisation-id: public.notes"]
    );
}

#[tokio::test]
async fn internal_tables_are_exempt_only_while_the_app_cannot_reach_them() {
    let (_database, admin) = migrated().await;
    as_owner(
        &admin,
        "CREATE TABLE maturion.work_queue (id bigint PRIMARY KEY); \
         COMMENT ON TABLE maturion.work_queue IS '@internal queue of platform jobs'",
    )
    .await;
    assert!(findings(&admin).await.is_empty());
    as_owner(
        &admin,
        "GRANT SELECT ON maturion.work_queue TO maturion_app",
    )
    .await;
    assert_eq!(
        findings(&admin).await,
        ["internal-table-exposed: maturion.work_queue"]
    );
}

#[tokio::test]
async fn a_tenant_table_without_the_audit_trail_is_reported() {
    let (_database, admin) = migrated().await;
    as_owner(
        &admin,
        "ALTER TABLE public.organisation_settings DISABLE TRIGGER audit_trail",
    )
    .await;
    assert_eq!(
        findings(&admin).await,
        [
            "missing-audit-trigger: public.organisation_settings",
            "platform-trigger-firing: public.organisation_settings.trigger audit_trail"
        ]
    );
}

#[tokio::test]
async fn a_rollup_the_application_can_write_is_reported() {
    let (_database, admin) = migrated().await;
    assert_eq!(
        findings(&admin).await,
        Vec::<String>::new(),
        "the platform's rollups are read-only"
    );
    as_owner(
        &admin,
        "GRANT INSERT, UPDATE ON public.audit_log_hourly TO maturion_app",
    )
    .await;
    assert_eq!(
        findings(&admin).await,
        ["writable-rollup: public.audit_log_hourly"]
    );
}

#[tokio::test]
async fn a_table_only_the_platform_writes_is_reported_when_a_runtime_role_may_write_it() {
    let (_database, admin) = migrated().await;
    // event_log is written by maturion.publish_events and the permission trigger only.
    // A grant to PUBLIC is held by both runtime roles: one finding each.
    for (grant, roles) in [
        ("GRANT INSERT ON public.event_log TO maturion_app", 1),
        (
            "GRANT UPDATE (processed_at) ON public.event_log TO maturion_app",
            1,
        ),
        ("GRANT INSERT (payload) ON public.event_log TO PUBLIC", 2),
        (
            "GRANT UPDATE (processed_at) ON public.event_log TO maturion_readonly",
            1,
        ),
    ] {
        as_owner(&admin, grant).await;
        let found = findings(&admin).await;
        as_owner(
            &admin,
            "REVOKE INSERT, UPDATE ON public.event_log FROM maturion_app, maturion_readonly, PUBLIC",
        )
        .await;
        assert_eq!(
            found,
            vec!["runtime-role-excess-privilege: public.event_log"; roles],
            "{grant}"
        );
    }
    assert_eq!(findings(&admin).await, Vec::<String>::new());
}

#[tokio::test]
async fn a_nullable_or_non_uuid_organisation_id_is_reported() {
    let (_database, admin) = migrated().await;
    let nullable = variant(
        &good_table("public.nullable"),
        "organisation_id uuid NOT NULL",
        "organisation_id uuid",
    );
    as_owner(&admin, &nullable).await;
    assert_eq!(
        findings(&admin).await,
        ["nullable-organisation-id: public.nullable"]
    );
}

#[tokio::test]
async fn an_organisation_id_without_a_key_to_organisations_is_reported() {
    let (_database, admin) = migrated().await;
    let sql = variant(
        &good_table("public.unlinked"),
        " REFERENCES public.organisations (id)",
        "",
    );
    as_owner(&admin, &sql).await;
    assert_eq!(
        findings(&admin).await,
        ["missing-organisation-fk: public.unlinked"]
    );
}

#[tokio::test]
async fn row_level_security_must_be_enabled_and_forced() {
    let (_database, admin) = migrated().await;
    as_owner(&admin, &good_table("public.off")).await;
    as_owner(&admin, &good_table("public.unforced")).await;
    as_owner(&admin, "ALTER TABLE public.off DISABLE ROW LEVEL SECURITY").await;
    as_owner(
        &admin,
        "ALTER TABLE public.unforced NO FORCE ROW LEVEL SECURITY",
    )
    .await;
    assert_eq!(
        findings(&admin).await,
        [
            "rls-not-enabled: public.off",
            "rls-not-forced: public.unforced"
        ]
    );
}

#[tokio::test]
async fn a_tenant_table_without_a_permissive_policy_is_reported() {
    let (_database, admin) = migrated().await;
    as_owner(&admin, &good_table("public.unpoliced")).await;
    as_owner(
        &admin,
        "DROP POLICY tenant_isolation ON public.unpoliced; \
         CREATE POLICY only_restrictive ON public.unpoliced AS RESTRICTIVE USING (true)",
    )
    .await;
    assert_eq!(
        findings(&admin).await,
        ["missing-tenant-policy: public.unpoliced"]
    );
}

#[tokio::test]
async fn policies_that_are_not_the_fail_closed_check_are_reported() {
    let (_database, admin) = migrated().await;
    as_owner(&admin, &good_table("public.policed")).await;
    let policies = [
        // The per-row form from spec §7.1; it also raises without a tenant.
        ("bare", "USING (organisation_id = current_setting('app.current_organisation_id')::uuid)"),
        ("raises", "USING (organisation_id = (SELECT current_setting('app.current_organisation_id')::uuid))"),
        ("per_row", "USING (organisation_id = maturion.current_organisation_id())"),
        ("open", "FOR SELECT USING (true)"),
        ("other_column", "USING (owner_id = (SELECT maturion.current_organisation_id()))"),
        ("insert_without_check", "FOR INSERT"),
        (
            "loose_check",
            "FOR UPDATE USING (organisation_id = (SELECT maturion.current_organisation_id())) \
             WITH CHECK (true)",
        ),
    ];
    for (name, policy) in policies {
        as_owner(
            &admin,
            &format!("CREATE POLICY {name} ON public.policed {policy}"),
        )
        .await;
    }
    let report = report(&admin, &CheckOptions::default()).await;
    let found: Vec<String> = report
        .violations
        .iter()
        .map(|violation| format!("{}: {}", violation.rule, violation.object))
        .collect();
    let mut expected: Vec<String> = policies
        .iter()
        .map(|(name, _)| format!("policy-not-fail-closed: public.policed.policy {name}"))
        .collect();
    expected.sort();
    assert_eq!(found, expected);
    let message = |name: &str| {
        let object = format!("public.policed.policy {name}");
        report
            .violations
            .iter()
            .find(|violation| violation.object == object)
            .unwrap()
            .message
            .clone()
    };
    assert!(
        message("bare").contains("any role may set"),
        "{}",
        message("bare")
    );
    assert!(
        message("per_row").contains("once per row"),
        "{}",
        message("per_row")
    );
    assert!(
        message("insert_without_check").contains("has no WITH CHECK"),
        "{}",
        message("insert_without_check")
    );
    assert!(
        message("loose_check").starts_with("FOR UPDATE policy: WITH CHECK true"),
        "{}",
        message("loose_check")
    );
}

#[tokio::test]
async fn a_foreign_key_without_a_leading_index_is_reported() {
    let (_database, admin) = migrated().await;
    // An index on (organisation_id) alone does not lead with both columns of the key.
    let sql = variant(
        &good_table("public.slow"),
        "CREATE INDEX ON public.slow (owner_id, organisation_id)",
        "CREATE INDEX ON public.slow (organisation_id)",
    );
    as_owner(&admin, &sql).await;
    let report = report(&admin, &CheckOptions::default()).await;
    let found: Vec<_> = report
        .violations
        .iter()
        .map(|v| (v.rule, v.object.as_str()))
        .collect();
    assert_eq!(
        found,
        [(
            "unindexed-foreign-key",
            "public.slow.constraint slow_owner_fkey"
        )]
    );
    assert!(report.violations[0]
        .message
        .ends_with("CREATE INDEX CONCURRENTLY ON public.slow (organisation_id, owner_id)"));
}

#[tokio::test]
async fn missing_audit_fields_are_reported_unless_the_table_is_append_only() {
    let (_database, admin) = migrated().await;
    let undeletable = variant(
        &good_table("public.undeletable"),
        "deleted_at timestamptz,\n           deleted_by uuid,",
        "",
    );
    let undeletable = variant(
        &undeletable,
        "FOREIGN KEY (organisation_id, deleted_by) REFERENCES public.users (organisation_id, id)",
        "CHECK (true)",
    );
    let undeletable = variant(
        &undeletable,
        "CREATE INDEX ON public.undeletable (organisation_id, deleted_by) WHERE deleted_by IS NOT NULL;",
        "",
    );
    let undeletable = variant(
        &undeletable,
        "(organisation_id, deleted_at)",
        "(organisation_id, created_at)",
    );
    as_owner(&admin, &undeletable).await;
    let log = |name: &str, created_at: &str| {
        format!(
            "CREATE TABLE {name} (
               id uuid PRIMARY KEY DEFAULT generate_uuidv7(),
               organisation_id uuid NOT NULL REFERENCES public.organisations (id),
               message text NOT NULL,
               {created_at}
               UNIQUE (organisation_id, id)
             );
             COMMENT ON TABLE {name} IS 'Module log. @append-only';
             CREATE INDEX ON {name} (organisation_id);
             SELECT maturion.enable_tenant_isolation('{name}', audit_fields => false)"
        )
    };
    as_owner(
        &admin,
        &log(
            "public.module_log",
            "created_at timestamptz NOT NULL DEFAULT now(),",
        ),
    )
    .await;
    as_owner(&admin, &log("public.timeless_log", "")).await;
    let report = report(&admin, &CheckOptions::default()).await;
    let found: Vec<_> = report
        .violations
        .iter()
        .map(|v| (v.rule, v.object.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            ("missing-audit-fields", "public.timeless_log"),
            ("missing-audit-fields", "public.undeletable")
        ]
    );
    assert!(report.violations[0]
        .message
        .starts_with("is marked @append-only but lacks created_at"));
    assert!(report.violations[1]
        .message
        .starts_with("lacks the audit fields of §5.1: deleted_at, deleted_by;"));
}

#[tokio::test]
async fn a_reference_to_a_tenant_table_must_carry_organisation_id() {
    let (_database, admin) = migrated().await;
    let sql = variant(
        &good_table("public.loose"),
        "CONSTRAINT loose_owner_fkey FOREIGN KEY (organisation_id, owner_id) REFERENCES public.users (organisation_id, id)",
        "CONSTRAINT loose_owner_fkey FOREIGN KEY (owner_id) REFERENCES public.users (id)",
    );
    as_owner(&admin, &sql).await;
    assert_eq!(
        findings(&admin).await,
        ["non-composite-tenant-reference: public.loose.constraint loose_owner_fkey"]
    );
}

#[tokio::test]
async fn a_tenant_table_needs_a_unique_key_on_organisation_and_id() {
    let (_database, admin) = migrated().await;
    let sql = variant(
        &good_table("public.unkeyed"),
        "CONSTRAINT unkeyed_tenant_key UNIQUE (organisation_id, id)",
        "CHECK (true)",
    );
    as_owner(&admin, &sql).await;
    // A partitioned table's key may add the partition key; a partial unique index is no key.
    as_owner(
        &admin,
        "CREATE TABLE public.readings (
           id uuid NOT NULL DEFAULT generate_uuidv7(),
           organisation_id uuid NOT NULL REFERENCES public.organisations (id),
           taken_at timestamptz NOT NULL,
           created_at timestamptz NOT NULL DEFAULT now(),
           UNIQUE (organisation_id, taken_at, id)
         ) PARTITION BY RANGE (taken_at);
         COMMENT ON TABLE public.readings IS '@append-only';
         CREATE TABLE public.readings_default PARTITION OF public.readings DEFAULT;
         CREATE INDEX ON public.readings (organisation_id);
         SELECT maturion.enable_tenant_isolation('public.readings', audit_fields => false);
         CREATE TABLE public.half_keyed (LIKE public.readings INCLUDING DEFAULTS);
         ALTER TABLE public.half_keyed ADD FOREIGN KEY (organisation_id) REFERENCES public.organisations (id);
         CREATE UNIQUE INDEX ON public.half_keyed (organisation_id, id) WHERE taken_at > '2025-01-01';
         COMMENT ON TABLE public.half_keyed IS '@append-only';
         SELECT maturion.enable_tenant_isolation('public.half_keyed', audit_fields => false)",
    )
    .await;
    assert_eq!(
        findings(&admin).await,
        [
            "missing-tenant-unique-key: public.half_keyed",
            "missing-tenant-unique-key: public.unkeyed"
        ]
    );
}

#[tokio::test]
async fn views_must_run_as_the_invoker_and_materialized_views_must_not_hold_tenant_rows() {
    let (_database, admin) = migrated().await;
    as_owner(
        &admin,
        "CREATE VIEW public.active_users AS SELECT * FROM public.users WHERE deleted_at IS NULL;
         CREATE VIEW public.invoker_users WITH (security_invoker) AS SELECT * FROM public.users;
         CREATE MATERIALIZED VIEW public.user_counts AS SELECT count(*) FROM public.invoker_users;
         CREATE MATERIALIZED VIEW public.numbers AS SELECT 1 AS one",
    )
    .await;
    assert_eq!(
        findings(&admin).await,
        [
            "view-without-security-invoker: public.active_users",
            "materialized-view-on-tenant-data: public.user_counts",
        ]
    );
}

#[tokio::test]
async fn security_definer_functions_must_pin_search_path_and_not_be_public() {
    let (_database, admin) = migrated().await;
    as_owner(
        &admin,
        "CREATE FUNCTION public.unpinned(organisation uuid) RETURNS bigint LANGUAGE sql SECURITY DEFINER \
           AS 'SELECT count(*) FROM public.users WHERE organisation_id = organisation';
         REVOKE EXECUTE ON FUNCTION public.unpinned(uuid) FROM PUBLIC;
         CREATE PROCEDURE public.open_to_all() LANGUAGE sql SECURITY DEFINER \
           SET search_path = pg_catalog, pg_temp AS 'SELECT 1';
         -- An explicit grant to PUBLIC counts as much as the default one.
         CREATE FUNCTION public.granted() RETURNS int LANGUAGE sql SECURITY DEFINER \
           SET search_path = '' AS 'SELECT 1';
         REVOKE EXECUTE ON FUNCTION public.granted() FROM PUBLIC;
         GRANT EXECUTE ON FUNCTION public.granted() TO maturion_app, PUBLIC",
    )
    .await;
    assert_eq!(
        findings(&admin).await,
        [
            // Executable by PUBLIC, so by both runtime roles, and declared callable by neither.
            "runtime-role-undeclared-function: function public.granted()",
            "runtime-role-undeclared-function: function public.granted()",
            "security-definer-executable-by-public: function public.granted()",
            "security-definer-without-search-path: function public.unpinned(uuid)",
            "runtime-role-undeclared-function: procedure public.open_to_all()",
            "runtime-role-undeclared-function: procedure public.open_to_all()",
            "security-definer-executable-by-public: procedure public.open_to_all()",
        ]
    );
}

#[tokio::test]
async fn a_missing_app_role_is_reported() {
    let (_database, admin) = migrated().await;
    let options = CheckOptions {
        app_role: "no_such_role".into(),
        ..CheckOptions::default()
    };
    assert_eq!(
        findings_for(&admin, &options).await,
        ["app-role-missing: role no_such_role"]
    );
}

#[tokio::test]
async fn an_app_role_that_skips_row_level_security_is_reported() {
    let (database, admin) = migrated().await;
    let role = TestRole::create(&admin, &database, "SUPERUSER").await;
    let superuser = findings_for(&admin, &role.options()).await;
    role.drop(&admin).await;
    let role = TestRole::create(&admin, &database, "BYPASSRLS").await;
    let bypassrls = findings_for(&admin, &role.options()).await;
    role.drop(&admin).await;
    // Membership is enough, even without inheriting its privileges: the role can SET ROLE to
    // the BYPASSRLS maintenance role.
    let role = TestRole::create(&admin, &database, "NOINHERIT IN ROLE maturion_maintenance").await;
    let member = report(&admin, &role.options()).await;
    role.drop(&admin).await;

    let name = format!("check_app_{}", database.name());
    assert_eq!(superuser, [format!("app-role-superuser: role {name}")]);
    assert_eq!(bypassrls, [format!("app-role-bypassrls: role {name}")]);
    let found: Vec<_> = member
        .violations
        .iter()
        .map(|v| (v.rule, v.message.as_str()))
        .collect();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, "app-role-bypassrls");
    assert!(
        found[0].1.contains("REVOKE maturion_maintenance FROM"),
        "{}",
        found[0].1
    );
}

#[tokio::test]
async fn an_app_role_that_owns_or_may_create_objects_is_reported() {
    let (database, admin) = migrated().await;
    let role = TestRole::create(&admin, &database, "LOGIN").await;
    as_owner(&admin, &good_table("public.owned")).await;
    admin
        .batch_execute(&format!(
            "ALTER TABLE public.owned OWNER TO {0};
             GRANT CREATE ON SCHEMA public TO {0};
             GRANT CREATE ON DATABASE {1} TO {0}",
            role.name,
            database.name()
        ))
        .await
        .unwrap();
    let found = findings_for(&admin, &role.options()).await;
    role.drop(&admin).await;
    assert_eq!(
        found,
        [
            format!("app-role-can-create: database {}", database.name()),
            "app-role-owns-objects: public.owned".to_owned(),
            // An owner holds every privilege on its table.
            "runtime-role-excess-privilege: public.owned".to_owned(),
            "app-role-can-create: schema public".to_owned(),
        ]
    );
}

#[tokio::test]
async fn privileges_on_a_partition_or_chunk_of_a_tenant_table_are_reported() {
    let (_database, admin) = migrated().await;
    as_owner(&admin, &good_table("public.hyper")).await;
    as_owner(
        &admin,
        // Inheritance children are how TimescaleDB lays out chunks.
        "CREATE TABLE public.hyper_chunk_1 () INHERITS (public.hyper);
         GRANT SELECT ON public.hyper_chunk_1 TO maturion_app;
         GRANT SELECT (id), INSERT ON public.audit_log_default TO maturion_app",
    )
    .await;
    let report = report(&admin, &CheckOptions::default()).await;
    let found: Vec<_> = report
        .violations
        .iter()
        .map(|v| (v.rule, v.object.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            ("partition-directly-accessible", "public.audit_log_default"),
            ("partition-directly-accessible", "public.hyper_chunk_1"),
        ]
    );
    assert!(report.violations[0]
        .message
        .starts_with("maturion_app holds INSERT on this partition of public.audit_log"));
}

/// A table with the columns of §5.2–§5.4 and a full-text document: until the patterns are
/// switched on and the document indexed, each is reported; then the table is clean.
#[tokio::test]
async fn shared_pattern_columns_without_their_enforcement_are_reported() {
    let (_database, admin) = migrated().await;
    let table = variant(
        &good_table("public.risks"),
        "title text NOT NULL,",
        "title text NOT NULL,
         version_number integer NOT NULL DEFAULT 1,
         is_current_version boolean NOT NULL DEFAULT true,
         parent_version_id uuid,
         status text NOT NULL DEFAULT 'draft',
         status_changed_at timestamptz,
         status_changed_by uuid,
         retention_until timestamptz,
         retention_reason text,
         is_legally_protected boolean NOT NULL DEFAULT false,
         search_vector tsvector GENERATED ALWAYS AS (maturion.search_vector('en', title, '')) STORED,
         CONSTRAINT valid_status CHECK (status IN ('draft', 'pending_review', 'approved', 'rejected', 'archived')),
         CONSTRAINT risks_one_next_version UNIQUE (organisation_id, parent_version_id),
         FOREIGN KEY (organisation_id, parent_version_id) REFERENCES public.risks (organisation_id, id),
         FOREIGN KEY (organisation_id, status_changed_by) REFERENCES public.users (organisation_id, id),",
    );
    as_owner(
        &admin,
        &format!("{table}; CREATE INDEX ON public.risks (organisation_id, status_changed_by)"),
    )
    .await;
    assert_eq!(
        findings(&admin).await,
        [
            "retention-not-enforced: public.risks",
            "versioning-not-enforced: public.risks",
            "workflow-not-enforced: public.risks",
            "unindexed-search-vector: public.risks.search_vector",
        ]
    );
    as_owner(
        &admin,
        "SELECT maturion.enable_shared_patterns('public.risks'); \
         CREATE INDEX ON public.risks USING gin (search_vector)",
    )
    .await;
    assert_eq!(findings(&admin).await, Vec::<String>::new());
}
