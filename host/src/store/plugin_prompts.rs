//! Prompts shipped by plugins (`plugin_prompts`): WAV bytes by plugin,
//! language and name, stored at install for every node to read.

use sqlx::Row;

use super::{Result, Store};

/// Largest prompt accepted, bytes (about 2 minutes of 8 kHz audio).
pub const MAX_PROMPT_BYTES: usize = 2 << 20;

impl Store {
    /// Stores (or replaces) a prompt of `plugin_id`; `tenant_id` is the
    /// owner of a private plugin, `None` for a plugin of every tenant.
    pub async fn put_plugin_prompt(
        &self,
        tenant_id: Option<i64>,
        plugin_id: &str,
        lang: &str,
        name: &str,
        wav: &[u8],
    ) -> Result<()> {
        if wav.len() > MAX_PROMPT_BYTES {
            return Err(super::StoreError::Invalid(format!(
                "prompt {lang}/{name} is larger than {MAX_PROMPT_BYTES} bytes"
            )));
        }
        sqlx::query(
            "INSERT INTO plugin_prompts (plugin_id, scope, lang, name, wav, installed_at) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (plugin_id, scope, lang, name) DO UPDATE SET \
             wav = excluded.wav, installed_at = excluded.installed_at",
        )
        .bind(plugin_id)
        .bind(tenant_id.unwrap_or(0))
        .bind(lang)
        .bind(name)
        .bind(wav)
        .bind(crate::now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The prompt `lang/name` of `plugin_id` as `tenant_id` sees it: its
    /// private plugin's first, else the one of every tenant.
    pub async fn plugin_prompt(
        &self,
        tenant_id: i64,
        plugin_id: &str,
        lang: &str,
        name: &str,
    ) -> Result<Option<Vec<u8>>> {
        let row = sqlx::query(
            "SELECT wav FROM plugin_prompts \
             WHERE plugin_id = $1 AND scope IN (0, $2) AND lang = $3 AND name = $4 \
             ORDER BY scope DESC LIMIT 1",
        )
        .bind(plugin_id)
        .bind(tenant_id)
        .bind(lang)
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| r.try_get(0)).transpose()?)
    }
}
