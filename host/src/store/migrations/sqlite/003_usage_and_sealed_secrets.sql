-- Quotas read one row per tenant instead of scanning its documents.
CREATE TABLE tenant_usage (
    tenant TEXT PRIMARY KEY,
    documents INTEGER NOT NULL,
    bytes INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO tenant_usage (tenant, documents, bytes)
    SELECT tenant, COUNT(*), SUM(LENGTH(CAST(path AS BLOB)) + LENGTH(CAST(json AS BLOB)))
    FROM documents GROUP BY tenant;
-- The key that sealed `value` (then a BLOB); NULL for a plaintext value
-- written before secrets were sealed, which the host seals at start.
ALTER TABLE secrets ADD COLUMN key_id TEXT;
