//! The Object Storage backend: state in `<prefix><pair>.json` and the lock in
//! `<prefix><pair>.lock` of one bucket, shared by every machine that manages the pair.
//!
//! Correctness rests on Object Storage's conditional writes (strongly consistent, per its docs):
//! the lock object is created with `if-none-match: *`, so of two runs exactly one creates it;
//! it is released with `if-match` on its ETag, so a run never removes a lock that was forced
//! and retaken by another; every state write carries `if-match` on the ETag this run last read
//! or wrote (or `if-none-match: *` for the first), so a write based on an old state is refused
//! (412) instead of overwriting a newer one.

use std::sync::Mutex;

use super::{Held, SaveFuture, StateSink, Try};
use crate::blueprint::RemoteState;
use crate::engine::lock::{self, LockError, LockInfo, Removed};
use crate::engine::state::{State, StateError};
use crate::oci::ops::object_storage::{is_bucket_not_found, is_precondition_failed, Condition};
use crate::oci::{Client, OciError};

pub struct ObjectStorageBackend {
    client: Client,
    namespace: String,
    bucket: String,
    state_object: String,
    lock_object: String,
    /// The state object's ETag as this run last read or wrote it (`None`: it did not exist).
    etag: Mutex<Option<String>>,
}

impl ObjectStorageBackend {
    /// The backend for `pair` as the blueprint's `state:` names it; looks the namespace up
    /// (GetNamespace) when the blueprint gives none.
    pub async fn open(
        client: Client,
        cfg: &RemoteState,
        pair: &str,
    ) -> Result<ObjectStorageBackend, OciError> {
        let namespace = match &cfg.namespace {
            Some(ns) => ns.clone(),
            None => client.get_namespace().await?,
        };
        Ok(ObjectStorageBackend {
            client,
            namespace,
            bucket: cfg.bucket.clone(),
            state_object: format!("{}{pair}.json", cfg.prefix),
            lock_object: format!("{}{pair}.lock", cfg.prefix),
            etag: Mutex::new(None),
        })
    }

    fn place(&self, object: &str) -> String {
        format!("oci://{}/{}/{object}", self.namespace, self.bucket)
    }

    /// The Object Storage namespace (given, or looked up when opened).
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    pub fn state_place(&self) -> String {
        self.place(&self.state_object)
    }

    pub fn lock_place(&self) -> String {
        self.place(&self.lock_object)
    }

    fn state_err(&self, e: OciError) -> StateError {
        if is_bucket_not_found(&e) {
            return StateError::NoBucket {
                place: self.state_place(),
                bucket: self.bucket.clone(),
                namespace: self.namespace.clone(),
            };
        }
        StateError::Remote {
            place: self.state_place(),
            source: Box::new(e),
        }
    }

    fn lock_err(&self, e: OciError) -> LockError {
        if is_bucket_not_found(&e) {
            return LockError::NoBucket {
                place: self.lock_place(),
                bucket: self.bucket.clone(),
                namespace: self.namespace.clone(),
            };
        }
        LockError::Remote {
            place: self.lock_place(),
            source: Box::new(e),
        }
    }

    pub async fn load(&self, pair: &str) -> Result<Option<State>, StateError> {
        let got = self
            .client
            .get_object(&self.namespace, &self.bucket, &self.state_object)
            .await
            .map_err(|e| self.state_err(e))?;
        let place = self.state_place();
        let state = match &got {
            None => None,
            Some(o) => {
                let text = String::from_utf8_lossy(&o.body);
                let s = State::parse(&text, std::path::Path::new(&place))?;
                if s.pair != pair {
                    return Err(StateError::WrongPair {
                        path: place.into(),
                        found: s.pair,
                        expected: pair.to_string(),
                    });
                }
                Some(s)
            }
        };
        *self.etag.lock().unwrap_or_else(|e| e.into_inner()) = got.map(|o| o.etag);
        Ok(state)
    }

    /// The state object's text and ETag as stored now (for `state pull`).
    pub async fn read_raw(&self) -> Result<Option<(Vec<u8>, String)>, StateError> {
        Ok(self
            .client
            .get_object(&self.namespace, &self.bucket, &self.state_object)
            .await
            .map_err(|e| self.state_err(e))?
            .map(|o| (o.body, o.etag)))
    }

    async fn write(&self, state: &State) -> Result<(), StateError> {
        let condition = match self.etag.lock().unwrap_or_else(|e| e.into_inner()).clone() {
            Some(etag) => Condition::Matches(etag),
            None => Condition::Absent,
        };
        match self
            .client
            .put_object(
                &self.namespace,
                &self.bucket,
                &self.state_object,
                state.to_text().into_bytes(),
                &condition,
            )
            .await
        {
            Ok(etag) => {
                *self.etag.lock().unwrap_or_else(|e| e.into_inner()) = Some(etag);
                Ok(())
            }
            Err(e) if is_precondition_failed(&e) => Err(StateError::Conflict {
                place: self.state_place(),
            }),
            Err(e) => Err(self.state_err(e)),
        }
    }

    /// Who holds the lock now, if a run that may still be alive does (read-only: `plan`).
    pub async fn peek(&self) -> Result<Option<LockInfo>, LockError> {
        Ok(match self.holder().await? {
            Some((Ok(info), _)) if !info.is_dead_here() => Some(info),
            Some((Err(what), _)) => {
                return Err(LockError::Corrupt {
                    place: self.lock_place(),
                    what,
                })
            }
            _ => None,
        })
    }

    /// What holds the lock now: `None` when there is no lock object.
    async fn holder(&self) -> Result<Option<(Result<LockInfo, String>, String)>, LockError> {
        Ok(self
            .client
            .get_object(&self.namespace, &self.bucket, &self.lock_object)
            .await
            .map_err(|e| self.lock_err(e))?
            .map(|o| (lock::parse_info(&o.body), o.etag)))
    }

    pub async fn try_lock(&self, me: &LockInfo) -> Result<Try, LockError> {
        let body = serde_json::to_vec(me).expect("lock info serializes");
        // A dead holder is removed and the create tried again, at most a few times.
        for _ in 0..3 {
            match self
                .client
                .put_object(
                    &self.namespace,
                    &self.bucket,
                    &self.lock_object,
                    body.clone(),
                    &Condition::Absent,
                )
                .await
            {
                Ok(etag) => {
                    return Ok(Try::Taken(Held {
                        info: me.clone(),
                        etag: Some(etag),
                    }))
                }
                Err(e) if is_precondition_failed(&e) => {}
                Err(e) => return Err(self.lock_err(e)),
            }
            match self.holder().await? {
                // Released between the create and the read: try again.
                None => continue,
                // Our own create, answered 412 on a retry after its first answer was lost.
                Some((Ok(info), etag)) if info.id == me.id => {
                    return Ok(Try::Taken(Held {
                        info,
                        etag: Some(etag),
                    }))
                }
                Some((Ok(info), etag)) if info.is_dead_here() => {
                    self.delete_lock(&etag).await?;
                }
                Some((Ok(info), _)) => return Ok(Try::Busy(info)),
                Some((Err(what), _)) => {
                    return Err(LockError::Corrupt {
                        place: self.lock_place(),
                        what,
                    })
                }
            }
        }
        Err(self.lock_err(OciError::Decode {
            operation: "PutObject".into(),
            detail: "the lock object keeps changing".into(),
            opc_request_id: None,
        }))
    }

    /// Deletes the lock object if it still has `etag`; a lock already gone or changed is left.
    async fn delete_lock(&self, etag: &str) -> Result<bool, LockError> {
        match self
            .client
            .delete_object(&self.namespace, &self.bucket, &self.lock_object, Some(etag))
            .await
        {
            Ok(deleted) => Ok(deleted),
            Err(e) if is_precondition_failed(&e) => Ok(false),
            Err(e) => Err(self.lock_err(e)),
        }
    }

    pub async fn unlock(&self, held: &Held) -> Result<(), LockError> {
        let Some(etag) = &held.etag else {
            return Ok(());
        };
        if self.delete_lock(etag).await? {
            Ok(())
        } else {
            Err(LockError::Lost {
                place: self.lock_place(),
            })
        }
    }

    pub async fn force_unlock(&self) -> Result<Option<Removed>, LockError> {
        let Some((info, etag)) = self.holder().await? else {
            return Ok(None);
        };
        // Conditional on the ETag just read: a lock taken anew meanwhile is not removed.
        if !self.delete_lock(&etag).await? {
            return Err(LockError::Remote {
                place: self.lock_place(),
                source: Box::new(OciError::Decode {
                    operation: "DeleteObject".into(),
                    detail: "the lock changed while it was being removed; look again with `vipsetup plan` and retry".into(),
                    opc_request_id: None,
                }),
            });
        }
        Ok(Some(match info {
            Ok(i) => Removed::Holder(i),
            Err(what) => Removed::Unreadable(what),
        }))
    }

    /// Writes `text` as the state object only if there is none (`state push`).
    pub async fn create_state(&self, text: Vec<u8>) -> Result<bool, StateError> {
        match self
            .client
            .put_object(
                &self.namespace,
                &self.bucket,
                &self.state_object,
                text,
                &Condition::Absent,
            )
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if is_precondition_failed(&e) => Ok(false),
            Err(e) => Err(self.state_err(e)),
        }
    }

    /// Deletes the state object if it still has `etag` (`state pull`).
    pub async fn delete_state(&self, etag: &str) -> Result<bool, StateError> {
        match self
            .client
            .delete_object(
                &self.namespace,
                &self.bucket,
                &self.state_object,
                Some(etag),
            )
            .await
        {
            Ok(d) => Ok(d),
            Err(e) if is_precondition_failed(&e) => Ok(false),
            Err(e) => Err(self.state_err(e)),
        }
    }
}

impl StateSink for ObjectStorageBackend {
    fn save<'a>(&'a self, state: &'a State) -> SaveFuture<'a> {
        Box::pin(self.write(state))
    }
}
