-- expect: ban-drop-table
-- Remove the v1 evidence store together with its dependent views.
DROP TABLE IF EXISTS public.evidence_files, public.evidence_links CASCADE;
