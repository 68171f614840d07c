-- 1.0.0 policies: the reference module. One table holds every version of every policy (§5.2),
-- with a workflow (§5.3), retention fields (§5.4), soft delete (§3.5) and multilingual search
-- (§2.3, §6.4); the platform's helpers switch the patterns on from these columns.

CREATE TABLE policies (
  id UUID PRIMARY KEY DEFAULT generate_uuidv7(),
  organisation_id UUID NOT NULL REFERENCES organisations (id),
  title TEXT NOT NULL CHECK (btrim(title) <> '' AND length(title) <= 500),
  content TEXT NOT NULL DEFAULT '' CHECK (length(content) <= 1000000),
  language TEXT NOT NULL DEFAULT 'en' CHECK (language ~ '^[a-z]{2}$'),
  -- §5.2 versioning
  version_number INTEGER NOT NULL DEFAULT 1 CHECK (version_number >= 1),
  is_current_version BOOLEAN NOT NULL DEFAULT TRUE,
  parent_version_id UUID,
  -- §5.3 workflow
  status TEXT NOT NULL DEFAULT 'draft',
  status_changed_at TIMESTAMPTZ,
  status_changed_by UUID,
  -- §5.4 retention
  retention_until TIMESTAMPTZ,
  retention_reason TEXT CHECK (length(retention_reason) <= 2000),
  is_legally_protected BOOLEAN NOT NULL DEFAULT FALSE,
  -- §6.4 search: title and content stemmed in the row's language
  search_vector TSVECTOR GENERATED ALWAYS AS (maturion.search_vector(language, title, content)) STORED,
  -- §5.1 audit fields
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  created_by UUID NOT NULL,
  updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  updated_by UUID,
  deleted_at TIMESTAMPTZ,
  deleted_by UUID,
  CONSTRAINT valid_status CHECK (status IN ('draft', 'pending_review', 'approved', 'rejected', 'archived')),
  CONSTRAINT policies_organisation_id_id_key UNIQUE (organisation_id, id),
  CONSTRAINT policies_one_next_version UNIQUE (organisation_id, parent_version_id),
  CONSTRAINT policies_parent_version_id_fkey FOREIGN KEY (organisation_id, parent_version_id)
    REFERENCES policies (organisation_id, id),
  CONSTRAINT policies_status_changed_by_fkey FOREIGN KEY (organisation_id, status_changed_by)
    REFERENCES users (organisation_id, id),
  CONSTRAINT policies_created_by_fkey FOREIGN KEY (organisation_id, created_by) REFERENCES users (organisation_id, id),
  CONSTRAINT policies_updated_by_fkey FOREIGN KEY (organisation_id, updated_by) REFERENCES users (organisation_id, id),
  CONSTRAINT policies_deleted_by_fkey FOREIGN KEY (organisation_id, deleted_by) REFERENCES users (organisation_id, id)
);
COMMENT ON TABLE policies IS 'Policies of an organisation (module policies): every version of every policy is a row; the current one of each has is_current_version.';
COMMENT ON COLUMN policies.id IS 'Id of this version (UUIDv7).';
COMMENT ON COLUMN policies.organisation_id IS 'Tenant key: the organisation the policy belongs to.';
COMMENT ON COLUMN policies.title IS 'Title of the policy, 1 to 500 characters.';
COMMENT ON COLUMN policies.content IS 'Text of the policy.';
COMMENT ON COLUMN policies.language IS 'ISO 639-1 code of the language the policy is written in (en, fr, de, pt, es, nl, …); search stems its words in that language.';
COMMENT ON COLUMN policies.version_number IS 'Number of this version of the policy: 1, then one more for each next version (set by the database).';
COMMENT ON COLUMN policies.is_current_version IS 'True for the newest version of the policy only (kept by the database).';
COMMENT ON COLUMN policies.parent_version_id IS 'The version this one follows; NULL for the first version.';
COMMENT ON COLUMN policies.status IS 'Workflow status: draft, pending_review, approved, rejected or archived; moves only along the declared transitions.';
COMMENT ON COLUMN policies.status_changed_at IS 'When the status last moved (set by the database).';
COMMENT ON COLUMN policies.status_changed_by IS 'User who last moved the status (set by the database).';
COMMENT ON COLUMN policies.retention_until IS 'The version is kept at least until then (needs retention_reason).';
COMMENT ON COLUMN policies.retention_reason IS 'Why the version is retained, e.g. the regulation that requires it.';
COMMENT ON COLUMN policies.is_legally_protected IS 'Under legal protection: cannot be deleted, soft or hard.';
COMMENT ON COLUMN policies.search_vector IS 'Full-text document of title (weight A) and content (weight B) in the policy''s language (generated).';
COMMENT ON COLUMN policies.created_at IS 'When the version was created.';
COMMENT ON COLUMN policies.created_by IS 'User who created the version.';
COMMENT ON COLUMN policies.updated_at IS 'When the row was last changed.';
COMMENT ON COLUMN policies.updated_by IS 'User who last changed the row.';
COMMENT ON COLUMN policies.deleted_at IS 'Soft delete: when the policy was removed; NULL while present.';
COMMENT ON COLUMN policies.deleted_by IS 'User who soft-deleted the row.';
COMMENT ON CONSTRAINT valid_status ON policies IS 'The statuses of the workflow (§5.3).';
COMMENT ON CONSTRAINT policies_one_next_version ON policies IS 'A version has at most one next version, so a policy has one current version.';

-- §6.2 every foreign key indexed; §6.3 the tenant, status and time queries; §6.4 search.
-- (organisation_id, id) and (organisation_id, parent_version_id) are indexed by their keys.
CREATE INDEX idx_policies_organisation_deleted ON policies (organisation_id, deleted_at);
CREATE INDEX idx_policies_created_by ON policies (organisation_id, created_by);
CREATE INDEX idx_policies_updated_by ON policies (organisation_id, updated_by) WHERE updated_by IS NOT NULL;
CREATE INDEX idx_policies_deleted_by ON policies (organisation_id, deleted_by) WHERE deleted_by IS NOT NULL;
CREATE INDEX idx_policies_status_changed_by ON policies (organisation_id, status_changed_by) WHERE status_changed_by IS NOT NULL;
CREATE INDEX idx_policies_status ON policies (organisation_id, status) WHERE deleted_at IS NULL;
CREATE INDEX idx_policies_created_at ON policies (organisation_id, created_at DESC);
CREATE INDEX idx_policies_current ON policies (organisation_id, id) WHERE is_current_version AND deleted_at IS NULL;
CREATE INDEX idx_policies_title_trgm ON policies USING gin (title gin_trgm_ops);
CREATE INDEX idx_policies_search ON policies USING gin (search_vector);
COMMENT ON INDEX idx_policies_organisation_deleted IS 'Tenant queries that skip or keep soft-deleted rows (§6.3); serves the foreign key to organisations.';
COMMENT ON INDEX idx_policies_created_by IS 'Foreign key to the creating user (§6.2).';
COMMENT ON INDEX idx_policies_updated_by IS 'Foreign key to the last changing user (§6.2).';
COMMENT ON INDEX idx_policies_deleted_by IS 'Foreign key to the deleting user (§6.2).';
COMMENT ON INDEX idx_policies_status_changed_by IS 'Foreign key to the user who moved the status (§6.2).';
COMMENT ON INDEX idx_policies_status IS 'Policies by status, deleted ones left out (§6.3).';
COMMENT ON INDEX idx_policies_created_at IS 'Newest first (§6.3).';
COMMENT ON INDEX idx_policies_current IS 'The current version of each policy, in id order: the list of policies.';
COMMENT ON INDEX idx_policies_title_trgm IS 'Fuzzy search on titles with pg_trgm (§6.4).';
COMMENT ON INDEX idx_policies_search IS 'Full-text search in every language (§6.4).';

SELECT maturion.enable_tenant_isolation('policies', module => 'policies');
SELECT maturion.enable_shared_patterns('policies');
