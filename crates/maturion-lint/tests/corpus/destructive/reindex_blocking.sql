-- expect: require-concurrent-reindex
REINDEX TABLE risks;
