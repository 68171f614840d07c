-- expect: require-concurrent-index-creation
CREATE UNIQUE INDEX IF NOT EXISTS tenants_slug_key ON public.tenants (lower(slug));
