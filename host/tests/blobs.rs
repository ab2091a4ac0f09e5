//! The blob store (files) and the plugin blob names (`plugin_blobs`, on
//! SQLite and PostgreSQL, see `db/mod.rs`).

mod db;

use std::io::ErrorKind;
use std::path::Path;

use centrale_host::store::{BlobStore, Store, StoreError};
use db::{scope, tenant_with_users};
use sha2::{Digest, Sha256};

on_both!(check_plugin_blobs_per_tenant, check_references);

/// Every file below `dir` (relative paths), sorted.
fn files(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

#[tokio::test]
async fn blob_roundtrip_and_names() {
    let tmp = tempfile::tempdir().unwrap();
    let blobs = BlobStore::open(tmp.path().join("data/blobs")).unwrap();
    let data = b"RIFF....WAVE a greeting".to_vec();
    let sha = blobs.put(&data).await.unwrap();
    assert_eq!(sha, hex::encode(Sha256::digest(&data)));
    assert_eq!(blobs.get(&sha).await.unwrap(), data);
    // same content, same name, one file at ab/cdef...
    assert_eq!(blobs.put(&data).await.unwrap(), sha);
    let other = blobs.put(b"other").await.unwrap();
    assert_ne!(other, sha);
    let expected = format!("{}/{}", &sha[..2], &sha[2..]);
    assert!(
        files(blobs.dir()).contains(&expected),
        "{:?}",
        files(blobs.dir())
    );
    assert_eq!(files(blobs.dir()).len(), 2, "no temporary files are left");
    assert_eq!(
        blobs.path_of(&sha).unwrap(),
        blobs.dir().join(&sha[..2]).join(&sha[2..])
    );
    // upper case names the same blob
    assert_eq!(blobs.get(&sha.to_ascii_uppercase()).await.unwrap(), data);

    // names that are not 64 hex digits are refused, whatever the call
    let traversal = format!("../../{}", "a".repeat(58));
    for bad in ["", "abc", &traversal, &"z".repeat(64), &format!("{sha}0")] {
        assert_eq!(
            blobs.get(bad).await.unwrap_err().kind(),
            ErrorKind::InvalidInput,
            "{bad}"
        );
        assert!(blobs.path_of(bad).is_err(), "{bad}");
        assert!(blobs.remove(bad).await.is_err(), "{bad}");
    }

    // removal
    assert!(blobs.remove(&other).await.unwrap());
    assert!(!blobs.remove(&other).await.unwrap());
    assert_eq!(
        blobs.get(&other).await.unwrap_err().kind(),
        ErrorKind::NotFound
    );
    assert!(!blobs.exists(&other).await.unwrap());
    assert!(blobs.exists(&sha).await.unwrap());

    // a corrupted file is detected, not returned
    std::fs::write(blobs.path_of(&sha).unwrap(), b"bit rot").unwrap();
    assert_eq!(
        blobs.get(&sha).await.unwrap_err().kind(),
        ErrorKind::InvalidData
    );
}

#[tokio::test]
async fn put_file_moves_a_recording_in() {
    let tmp = tempfile::tempdir().unwrap();
    let blobs = BlobStore::open(tmp.path().join("blobs")).unwrap();
    let rec = tmp.path().join("rec/call-1.wav");
    std::fs::create_dir_all(rec.parent().unwrap()).unwrap();
    let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&rec, &data).unwrap();
    let (sha, size) = blobs.put_file(&rec).await.unwrap();
    assert_eq!(size, data.len() as u64);
    assert_eq!(sha, hex::encode(Sha256::digest(&data)));
    assert!(!rec.exists(), "the file was moved in");
    assert_eq!(blobs.get(&sha).await.unwrap(), data);
    // the same recording again: same name, source gone, one blob
    std::fs::write(&rec, &data).unwrap();
    assert_eq!(blobs.put_file(&rec).await.unwrap(), (sha.clone(), size));
    assert!(!rec.exists());
    assert_eq!(files(blobs.dir()).len(), 1);
    assert_eq!(
        blobs
            .put_file(tmp.path().join("missing.wav"))
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::NotFound
    );
}

async fn check_plugin_blobs_per_tenant(store: &Store) {
    let (a, users_a) = tenant_with_users(store, "a.test", 1).await;
    let (b, _) = tenant_with_users(store, "b.test", 1).await;
    let sa = scope(a.id, "voicemail", None);
    let sb = scope(b.id, "voicemail", None);
    let sha1 = db::sha_of(1);
    let sha2 = db::sha_of(2);

    assert_eq!(
        store
            .plugin_blob_put(&sa, "greeting.wav", &sha1, 1000)
            .await
            .unwrap(),
        None
    );
    let r = store
        .plugin_blob_get(&sa, "greeting.wav")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((r.sha256.as_str(), r.size), (sha1.as_str(), 1000));
    assert!(r.created_at > 0);

    // tenant B sees nothing of tenant A, under the same plugin and name
    assert_eq!(
        store.plugin_blob_get(&sb, "greeting.wav").await.unwrap(),
        None
    );
    assert!(store.plugin_blob_list(&sb, "").await.unwrap().is_empty());
    assert_eq!(store.plugin_blob_usage(&sb).await.unwrap(), 0);
    assert_eq!(
        store.plugin_blob_delete(&sb, "greeting.wav").await.unwrap(),
        None
    );
    assert!(store
        .plugin_blob_get(&sa, "greeting.wav")
        .await
        .unwrap()
        .is_some());
    // B's own blob of that name does not touch A's
    store
        .plugin_blob_put(&sb, "greeting.wav", &sha2, 5)
        .await
        .unwrap();
    assert_eq!(
        store
            .plugin_blob_get(&sa, "greeting.wav")
            .await
            .unwrap()
            .unwrap()
            .sha256,
        sha1
    );

    // other plugins and subjects are other scopes
    let sa_user = scope(a.id, "voicemail", Some(users_a[0].id));
    let sa_other = scope(a.id, "fax", None);
    assert_eq!(
        store
            .plugin_blob_get(&sa_user, "greeting.wav")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .plugin_blob_get(&sa_other, "greeting.wav")
            .await
            .unwrap(),
        None
    );
    store
        .plugin_blob_put(&sa_user, "msg/0001.wav", &sha1, 300)
        .await
        .unwrap();
    store
        .plugin_blob_put(&sa_user, "msg/0002.wav", &sha2, 200)
        .await
        .unwrap();
    store
        .plugin_blob_put(&sa_user, "name.wav", &sha2, 50)
        .await
        .unwrap();
    let names: Vec<String> = store
        .plugin_blob_list(&sa_user, "msg/")
        .await
        .unwrap()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(names, ["msg/0001.wav", "msg/0002.wav"]);
    assert_eq!(store.plugin_blob_list(&sa_user, "").await.unwrap().len(), 3);
    assert_eq!(store.plugin_blob_usage(&sa_user).await.unwrap(), 550);
    assert_eq!(store.plugin_blob_usage(&sa).await.unwrap(), 1000);

    // replacing a name returns the blob it pointed at; deleting returns it too
    assert_eq!(
        store
            .plugin_blob_put(&sa, "greeting.wav", &sha2, 7)
            .await
            .unwrap(),
        Some(sha1.clone())
    );
    assert_eq!(
        store
            .plugin_blob_put(&sa, "greeting.wav", &sha2, 7)
            .await
            .unwrap(),
        None
    );
    assert_eq!(store.plugin_blob_usage(&sa).await.unwrap(), 7);
    assert_eq!(
        store.plugin_blob_delete(&sa, "greeting.wav").await.unwrap(),
        Some(sha2.clone())
    );
    assert_eq!(
        store.plugin_blob_get(&sa, "greeting.wav").await.unwrap(),
        None
    );

    // bad names, bad hashes, unknown tenants
    for (name, sha) in [
        ("", sha1.as_str()),
        ("a\0b", sha1.as_str()),
        ("x", "../../etc"),
    ] {
        assert!(matches!(
            store.plugin_blob_put(&sa, name, sha, 1).await,
            Err(StoreError::Invalid(_))
        ));
    }
    let ghost = scope(a.id + b.id + 100, "voicemail", None);
    assert!(matches!(
        store.plugin_blob_put(&ghost, "x", &sha1, 1).await,
        Err(StoreError::NotFound(_))
    ));

    // deleting a tenant deletes its names
    store.delete_tenant(a.id).await.unwrap();
    assert!(store
        .plugin_blob_list(&sa_user, "")
        .await
        .unwrap()
        .is_empty());
    assert_eq!(store.plugin_blob_list(&sb, "").await.unwrap().len(), 1);
}

async fn check_references(store: &Store) {
    let (a, _) = tenant_with_users(store, "a.test", 0).await;
    let (b, _) = tenant_with_users(store, "b.test", 0).await;
    let sha1 = db::sha_of(11);
    let sha2 = db::sha_of(12);
    assert!(!store.blob_is_referenced(&sha1).await.unwrap());
    // one blob named by two tenants: referenced until both names are gone
    store
        .plugin_blob_put(&scope(a.id, "fax", None), "in.tif", &sha1, 9)
        .await
        .unwrap();
    store
        .plugin_blob_put(&scope(b.id, "fax", None), "in.tif", &sha1, 9)
        .await
        .unwrap();
    store
        .plugin_blob_delete(&scope(a.id, "fax", None), "in.tif")
        .await
        .unwrap();
    assert!(store.blob_is_referenced(&sha1).await.unwrap());
    store
        .plugin_blob_delete(&scope(b.id, "fax", None), "in.tif")
        .await
        .unwrap();
    assert!(!store.blob_is_referenced(&sha1).await.unwrap());
    // a mail of the outbox holds its message blob
    store
        .outbox_insert(a.id, "pbx@a.test", &["anna@a.test".to_string()], &sha2, 10)
        .await
        .unwrap();
    assert!(store.blob_is_referenced(&sha2).await.unwrap());
}
