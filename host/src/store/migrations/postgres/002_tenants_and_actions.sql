-- Tenants of hosts with [tenant_directory] source = "database". spec is
-- the tenant's JSON (plugins, limits, quota, actions, token hashes);
-- version is the directory's version when the row last changed.
CREATE TABLE tenants (
    id TEXT PRIMARY KEY,
    spec TEXT NOT NULL,
    version BIGINT NOT NULL
);
-- One row: bumped by every change to tenants, so a host polls one value.
CREATE TABLE tenant_directory (
    only_row BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (only_row),
    version BIGINT NOT NULL
);
INSERT INTO tenant_directory (version) VALUES (0);
-- The database's clock in epoch milliseconds: every host uses the same.
CREATE FUNCTION igor_now_ms() RETURNS BIGINT
    LANGUAGE SQL VOLATILE
    AS $$ SELECT (extract(epoch FROM clock_timestamp()) * 1000)::BIGINT $$;
-- Each tenant's scheduled actions with their next due time. A host claims
-- a due action by setting lease_owner and lease_until_ms; when the run
-- ends it moves due_ms on and clears the lease. A lease that expires
-- (its host died) makes the action claimable again.
CREATE TABLE scheduled_actions (
    tenant TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    url TEXT NOT NULL,
    representing TEXT NOT NULL,
    interval_ms BIGINT NOT NULL,
    due_ms BIGINT NOT NULL,
    lease_owner TEXT,
    lease_until_ms BIGINT,
    PRIMARY KEY (tenant, url, representing)
);
CREATE INDEX scheduled_actions_by_due ON scheduled_actions (due_ms);
