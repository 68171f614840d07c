//! The fixture of a module's table, made as a module migration makes it (README, "Writing a
//! module table"): every tenant rule followed, so `maturion check` passes and the API serves it.

use tokio_postgres::Client;

/// Creates table `name` of `module` as `maturion_owner`, with a `title`, a `status` limited to
/// `draft`, `approved` and `retired` by a `CHECK (… IN …)`, a `score` from 1 to 25, an
/// `owner_id` referencing a user, the audit fields and soft delete, every foreign key indexed,
/// and `maturion.enable_tenant_isolation(name, module)`. `admin` is a superuser; `name` and
/// `module` are lower-case identifiers.
pub async fn module_table(
    admin: &Client,
    name: &str,
    module: &str,
) -> Result<(), tokio_postgres::Error> {
    admin
        .batch_execute(&format!(
            "SET ROLE maturion_owner;
             CREATE TABLE {name} (
               id UUID PRIMARY KEY DEFAULT generate_uuidv7(),
               organisation_id UUID NOT NULL REFERENCES organisations(id),
               title TEXT NOT NULL CHECK (btrim(title) <> ''),
               status TEXT NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'approved', 'retired')),
               score INTEGER CHECK (score BETWEEN 1 AND 25),
               owner_id UUID,
               created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
               created_by UUID NOT NULL,
               updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
               updated_by UUID,
               deleted_at TIMESTAMPTZ,
               deleted_by UUID,
               UNIQUE (organisation_id, id),
               FOREIGN KEY (organisation_id, owner_id) REFERENCES users (organisation_id, id),
               FOREIGN KEY (organisation_id, created_by) REFERENCES users (organisation_id, id),
               FOREIGN KEY (organisation_id, updated_by) REFERENCES users (organisation_id, id),
               FOREIGN KEY (organisation_id, deleted_by) REFERENCES users (organisation_id, id)
             );
             COMMENT ON TABLE {name} IS 'A module''s table of the test fixture.';
             COMMENT ON COLUMN {name}.title IS 'What it is called.';
             CREATE INDEX ON {name} (organisation_id, owner_id);
             CREATE INDEX ON {name} (organisation_id, created_by);
             CREATE INDEX ON {name} (organisation_id, updated_by);
             CREATE INDEX ON {name} (organisation_id, deleted_by);
             CREATE INDEX ON {name} (organisation_id, created_at);
             SELECT maturion.enable_tenant_isolation('{name}', module => '{module}');
             RESET ROLE;"
        ))
        .await
}
