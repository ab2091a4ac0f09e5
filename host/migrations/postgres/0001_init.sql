-- Centrale schema, PostgreSQL flavour (keep in step with ../sqlite/0001_init.sql).
-- Portable types only: integers, booleans (0/1) and times (unix ms) are BIGINT,
-- text is TEXT, lists are child tables.

CREATE TABLE tenants (
    id               BIGSERIAL PRIMARY KEY,
    domain           TEXT    NOT NULL UNIQUE,
    name             TEXT    NOT NULL,
    extension_length BIGINT  NOT NULL,
    outside_prefix   TEXT    NOT NULL DEFAULT '',
    created_at       BIGINT  NOT NULL
);

CREATE TABLE users (
    id           BIGSERIAL PRIMARY KEY,
    tenant_id    BIGINT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    extension    TEXT   NOT NULL,
    display_name TEXT   NOT NULL,
    email        TEXT   NOT NULL DEFAULT '',
    created_at   BIGINT NOT NULL,
    UNIQUE (tenant_id, extension),
    -- target of the (user, tenant) foreign keys below: a child row cannot
    -- name a user of another tenant
    UNIQUE (id, tenant_id)
);

-- Public numbers (DIDs): globally unique, each routed to one user.
CREATE TABLE numbers (
    number    TEXT   NOT NULL PRIMARY KEY,
    tenant_id BIGINT NOT NULL,
    user_id   BIGINT NOT NULL,
    -- order of the user's numbers as given (the first is the main number)
    seq       BIGINT NOT NULL DEFAULT 0,
    FOREIGN KEY (user_id, tenant_id) REFERENCES users (id, tenant_id) ON DELETE CASCADE
);
CREATE INDEX numbers_user ON numbers (user_id, tenant_id);
CREATE INDEX numbers_tenant ON numbers (tenant_id);

CREATE TABLE devices (
    id         BIGSERIAL PRIMARY KEY,
    tenant_id  BIGINT NOT NULL,
    user_id    BIGINT NOT NULL,
    username   TEXT   NOT NULL,
    ha1_md5    TEXT   NOT NULL,
    ha1_sha256 TEXT   NOT NULL,
    UNIQUE (tenant_id, username),
    UNIQUE (id, tenant_id, user_id),
    FOREIGN KEY (user_id, tenant_id) REFERENCES users (id, tenant_id) ON DELETE CASCADE
);
CREATE INDEX devices_user ON devices (user_id, tenant_id);
CREATE INDEX devices_username ON devices (username);

CREATE TABLE registrations (
    id         BIGSERIAL PRIMARY KEY,
    tenant_id  BIGINT NOT NULL,
    user_id    BIGINT NOT NULL,
    device_id  BIGINT NOT NULL,
    contact    TEXT   NOT NULL,
    source     TEXT   NOT NULL,
    call_id    TEXT   NOT NULL,
    cseq       BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (device_id, contact),
    FOREIGN KEY (device_id, tenant_id, user_id)
        REFERENCES devices (id, tenant_id, user_id) ON DELETE CASCADE
);
CREATE INDEX registrations_user ON registrations (tenant_id, user_id);
CREATE INDEX registrations_expires ON registrations (expires_at);

-- Call detail records. No foreign key: a CDR is written once at the end of a
-- call and must not fail; delete_tenant removes a tenant's CDRs explicitly.
CREATE TABLE cdrs (
    id          BIGSERIAL PRIMARY KEY,
    tenant_id   BIGINT NOT NULL,
    call_id     TEXT   NOT NULL,
    caller      TEXT   NOT NULL,
    callee      TEXT   NOT NULL,
    started_at  BIGINT NOT NULL,
    answered_at BIGINT,
    ended_at    BIGINT NOT NULL,
    result      TEXT   NOT NULL,
    sip_code    BIGINT NOT NULL
);
CREATE INDEX cdrs_tenant_started ON cdrs (tenant_id, started_at);
