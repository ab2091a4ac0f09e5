-- Prompts a plugin ships (prompts/<lang>/<name>.wav beside its plugin.toml),
-- stored at install so that every node sees them. scope = 0 for a plugin
-- installed for every tenant, else the tenant of a private plugin. The
-- newest install of a name wins.
CREATE TABLE plugin_prompts (
    plugin_id    TEXT   NOT NULL,
    scope        BIGINT NOT NULL,
    lang         TEXT   NOT NULL,
    name         TEXT   NOT NULL,
    wav          BYTEA   NOT NULL,
    installed_at BIGINT NOT NULL,
    PRIMARY KEY (plugin_id, scope, lang, name)
);
