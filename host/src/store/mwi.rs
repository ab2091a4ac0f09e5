//! The `mwi_state` table: message-waiting state per user (new and old
//! voice messages), see RFC 3842 and `Switch::notify_mwi`.

use sqlx::Row;

use super::{classify, Result, Store};

/// One user's message-waiting state as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MwiState {
    pub tenant_id: i64,
    pub user_id: i64,
    /// New (unheard) messages.
    pub new_messages: u32,
    /// Old (heard, kept) messages.
    pub old_messages: u32,
    /// When it was last written (unix ms); grows with every write.
    pub updated_at: i64,
}

fn count(v: i64) -> u32 {
    u32::try_from(v.max(0)).unwrap_or(u32::MAX)
}

impl Store {
    /// Sets the message-waiting state of a user and returns the row's new
    /// `updated_at` (now, or one more than the previous value when that is
    /// not older, so that every write is seen by [`Store::mwi_changed_since`]).
    /// An unknown tenant or user is [`super::StoreError::NotFound`].
    pub async fn mwi_set(
        &self,
        tenant_id: i64,
        user_id: i64,
        new_messages: u32,
        old_messages: u32,
    ) -> Result<i64> {
        let row = sqlx::query(
            "INSERT INTO mwi_state (tenant_id, user_id, new_messages, old_messages, updated_at) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (tenant_id, user_id) DO UPDATE SET \
             new_messages = excluded.new_messages, old_messages = excluded.old_messages, \
             updated_at = CASE WHEN excluded.updated_at > mwi_state.updated_at \
             THEN excluded.updated_at ELSE mwi_state.updated_at + 1 END \
             RETURNING updated_at",
        )
        .bind(tenant_id)
        .bind(user_id)
        .bind(i64::from(new_messages))
        .bind(i64::from(old_messages))
        .bind(crate::now_ms())
        .fetch_one(&self.pool)
        .await
        .map_err(|e| {
            classify(
                e,
                || format!("message-waiting state of user {user_id} already exists"),
                || format!("user {user_id} in tenant {tenant_id} not found"),
            )
        })?;
        Ok(row.try_get(0)?)
    }

    /// The (new, old) message counts of a user; (0, 0) when never set.
    pub async fn mwi_get(&self, tenant_id: i64, user_id: i64) -> Result<(u32, u32)> {
        let row = sqlx::query(
            "SELECT new_messages, old_messages FROM mwi_state \
             WHERE tenant_id = $1 AND user_id = $2",
        )
        .bind(tenant_id)
        .bind(user_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(match row {
            Some(r) => (count(r.try_get(0)?), count(r.try_get(1)?)),
            None => (0, 0),
        })
    }

    /// The states written after `since_ms`, oldest write first (at most
    /// 1000; call again with the last `updated_at` for more).
    pub async fn mwi_changed_since(&self, since_ms: i64) -> Result<Vec<MwiState>> {
        let rows = sqlx::query(
            "SELECT tenant_id, user_id, new_messages, old_messages, updated_at FROM mwi_state \
             WHERE updated_at > $1 ORDER BY updated_at LIMIT 1000",
        )
        .bind(since_ms)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(MwiState {
                    tenant_id: r.try_get(0)?,
                    user_id: r.try_get(1)?,
                    new_messages: count(r.try_get(2)?),
                    old_messages: count(r.try_get(3)?),
                    updated_at: r.try_get(4)?,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use crate::store::{Store, StoreError};

    #[tokio::test]
    async fn set_get_and_changes() {
        let store = Store::connect("sqlite::memory:").await.unwrap();
        let t = store
            .create_tenant("mwi.test", "MWI", 3, "0")
            .await
            .unwrap();
        let u = store.create_user(t.id, "201", "A", "", &[]).await.unwrap();
        assert_eq!(store.mwi_get(t.id, u.id).await.unwrap(), (0, 0));
        let first = store.mwi_set(t.id, u.id, 2, 1).await.unwrap();
        assert_eq!(store.mwi_get(t.id, u.id).await.unwrap(), (2, 1));
        // A second write in the same millisecond still moves updated_at on.
        let second = store.mwi_set(t.id, u.id, 0, 3).await.unwrap();
        assert!(second > first);
        assert_eq!(store.mwi_get(t.id, u.id).await.unwrap(), (0, 3));
        let changed = store.mwi_changed_since(first).await.unwrap();
        assert_eq!(changed.len(), 1);
        assert_eq!(changed[0].new_messages, 0);
        assert_eq!(changed[0].old_messages, 3);
        assert!(store.mwi_changed_since(second).await.unwrap().is_empty());
        assert!(matches!(
            store.mwi_set(t.id, u.id + 100, 1, 0).await,
            Err(StoreError::NotFound(_))
        ));
    }
}
