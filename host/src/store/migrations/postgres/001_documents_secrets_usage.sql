CREATE TABLE documents (
    tenant TEXT NOT NULL,
    plugin TEXT NOT NULL,
    path TEXT NOT NULL,
    -- Text as written: jsonb would reorder keys and change the byte counts.
    json TEXT NOT NULL,
    revision BIGINT NOT NULL,
    PRIMARY KEY (tenant, plugin, path)
);
-- One sequence for all documents: revisions are never reused.
CREATE SEQUENCE document_revisions AS BIGINT;
-- One row per tenant, locked by every write of the tenant: quotas hold
-- across hosts without scanning documents.
CREATE TABLE tenant_usage (
    tenant TEXT PRIMARY KEY,
    documents BIGINT NOT NULL DEFAULT 0,
    bytes BIGINT NOT NULL DEFAULT 0
);
-- Sealed by the host (XChaCha20-Poly1305); key_id names the key.
CREATE TABLE secrets (
    tenant TEXT NOT NULL,
    plugin TEXT NOT NULL,
    name TEXT NOT NULL,
    key_id TEXT NOT NULL,
    sealed BYTEA NOT NULL,
    PRIMARY KEY (tenant, plugin, name)
);
