-- The schema from before versioned migrations, so existing files pass through.
CREATE TABLE IF NOT EXISTS documents (
    tenant TEXT NOT NULL,
    plugin TEXT NOT NULL,
    path TEXT NOT NULL,
    json TEXT NOT NULL,
    revision INTEGER NOT NULL,
    PRIMARY KEY (tenant, plugin, path)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS secrets (
    tenant TEXT NOT NULL,
    plugin TEXT NOT NULL,
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (tenant, plugin, name)
) WITHOUT ROWID;
-- One counter for the whole file: revisions are never reused.
CREATE TABLE IF NOT EXISTS revision_counter (
    only_row INTEGER PRIMARY KEY CHECK (only_row = 0),
    last INTEGER NOT NULL
);
INSERT OR IGNORE INTO revision_counter (only_row, last) VALUES (0, 0);
