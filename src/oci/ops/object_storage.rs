//! Object Storage operations for remote state and lock: GetNamespace, GetObject, PutObject
//! (conditional on `if-match` / `if-none-match: *`), DeleteObject (conditional on `if-match`)
//! and ListObjects. Paths as Oracle's Python SDK builds them (`/n/{namespaceName}/b/
//! {bucketName}/o/{objectName}`, each parameter percent-encoded); PutObject's body is not
//! signed, as the SDKs do it.

use serde::Deserialize;

use crate::oci::client::Client;
use crate::oci::endpoint::Service;
use crate::oci::error::OciError;
use crate::oci::request::{encode, ApiRequest, HttpResponse};

const OS: Service = Service::ObjectStorage;

/// An object's bytes with the ETag they were read with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredObject {
    pub body: Vec<u8>,
    pub etag: String,
}

/// The condition a write or delete is made on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Condition {
    /// Only if no object has this name (`if-none-match: *`).
    Absent,
    /// Only if the object still has this ETag (`if-match`).
    Matches(String),
    /// Unconditionally (used only where losing a race is harmless).
    Any,
}

fn object_path(namespace: &str, bucket: &str, object: &str) -> String {
    format!(
        "/n/{}/b/{}/o/{}",
        encode(namespace),
        encode(bucket),
        encode(object)
    )
}

pub fn get_namespace_request() -> ApiRequest {
    ApiRequest::unversioned("GetNamespace", OS, "GET", "/n/".into())
}

pub fn get_object_request(namespace: &str, bucket: &str, object: &str) -> ApiRequest {
    ApiRequest::unversioned(
        "GetObject",
        OS,
        "GET",
        object_path(namespace, bucket, object),
    )
}

pub fn put_object_request(
    namespace: &str,
    bucket: &str,
    object: &str,
    body: Vec<u8>,
    condition: &Condition,
) -> ApiRequest {
    let mut r = ApiRequest::unversioned(
        "PutObject",
        OS,
        "PUT",
        object_path(namespace, bucket, object),
    );
    r.body = Some(body);
    r.body_unsigned = true;
    r.content_type = "application/json";
    match condition {
        Condition::Absent => r.if_none_match(Some("*")),
        Condition::Matches(etag) => r.if_match(Some(etag)),
        Condition::Any => r,
    }
}

pub fn delete_object_request(
    namespace: &str,
    bucket: &str,
    object: &str,
    etag: Option<&str>,
) -> ApiRequest {
    ApiRequest::unversioned(
        "DeleteObject",
        OS,
        "DELETE",
        object_path(namespace, bucket, object),
    )
    .if_match(etag)
}

pub fn list_objects_request(
    namespace: &str,
    bucket: &str,
    prefix: &str,
    start: Option<&str>,
) -> ApiRequest {
    ApiRequest::unversioned(
        "ListObjects",
        OS,
        "GET",
        format!("/n/{}/b/{}/o", encode(namespace), encode(bucket)),
    )
    .query("prefix", prefix)
    .query_opt("start", start)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListObjects {
    #[serde(default)]
    objects: Vec<ObjectSummary>,
    #[serde(default)]
    next_start_with: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ObjectSummary {
    name: String,
}

/// True for the answer Object Storage gives to a missing object (or bucket).
pub fn is_not_found(e: &OciError) -> bool {
    matches!(e, OciError::Api(a) if a.status == 404)
}

/// True for a missing bucket (or namespace): Object Storage answers 404 `BucketNotFound`
/// (oci-python-sdk's conformance: `get_object(ns, "no-such-bucket", ...)`; tests/conformance/
/// test_object_storage.py) where a missing object is 404 `ObjectNotFound`. A missing bucket is
/// a wrong blueprint, never "no state yet".
pub fn is_bucket_not_found(e: &OciError) -> bool {
    matches!(e, OciError::Api(a) if a.status == 404
        && matches!(a.code.as_str(), "BucketNotFound" | "NamespaceNotFound"))
}

/// True for a failed `if-match` / `if-none-match` (412 IfMatchFailed / IfNoneMatchFailed).
pub fn is_precondition_failed(e: &OciError) -> bool {
    matches!(e, OciError::Api(a) if a.status == 412)
}

fn etag_of(op: &str, resp: &HttpResponse) -> Result<String, OciError> {
    resp.header("etag")
        .map(str::to_string)
        .ok_or_else(|| OciError::Decode {
            operation: op.to_string(),
            detail: "the answer has no etag header".into(),
            opc_request_id: resp.opc_request_id(),
        })
}

impl Client {
    /// The tenancy's Object Storage namespace.
    pub async fn get_namespace(&self) -> Result<String, OciError> {
        self.call(get_namespace_request()).await
    }

    /// The object, or `None` when it does not exist (a missing bucket is an error).
    pub async fn get_object(
        &self,
        namespace: &str,
        bucket: &str,
        object: &str,
    ) -> Result<Option<StoredObject>, OciError> {
        match self
            .send(get_object_request(namespace, bucket, object))
            .await
        {
            Ok(resp) => Ok(Some(StoredObject {
                etag: etag_of("GetObject", &resp)?,
                body: resp.body,
            })),
            Err(e) if is_not_found(&e) && !is_bucket_not_found(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Writes the object if `condition` holds; returns its new ETag.
    pub async fn put_object(
        &self,
        namespace: &str,
        bucket: &str,
        object: &str,
        body: Vec<u8>,
        condition: &Condition,
    ) -> Result<String, OciError> {
        let resp = self
            .send(put_object_request(
                namespace, bucket, object, body, condition,
            ))
            .await?;
        etag_of("PutObject", &resp)
    }

    /// Deletes the object (if it still has `etag`, when given). A missing object is `Ok(false)`.
    pub async fn delete_object(
        &self,
        namespace: &str,
        bucket: &str,
        object: &str,
        etag: Option<&str>,
    ) -> Result<bool, OciError> {
        match self
            .send(delete_object_request(namespace, bucket, object, etag))
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if is_not_found(&e) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Names of the objects starting with `prefix`, following `nextStartWith`.
    pub async fn list_objects(
        &self,
        namespace: &str,
        bucket: &str,
        prefix: &str,
    ) -> Result<Vec<String>, OciError> {
        let mut names = Vec::new();
        let mut start: Option<String> = None;
        loop {
            let page: ListObjects = self
                .call(list_objects_request(
                    namespace,
                    bucket,
                    prefix,
                    start.as_deref(),
                ))
                .await?;
            names.extend(page.objects.into_iter().map(|o| o.name));
            match page.next_start_with {
                Some(n) if Some(&n) != start.as_ref() => start = Some(n),
                _ => return Ok(names),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_encode_every_parameter_and_puts_carry_their_condition() {
        let r = put_object_request(
            "ns",
            "b",
            "pairs/web vip.json",
            b"{}".to_vec(),
            &Condition::Absent,
        );
        assert_eq!(r.path, "/n/ns/b/b/o/pairs%2Fweb%20vip.json");
        assert_eq!(r.if_none_match.as_deref(), Some("*"));
        assert!(r.if_match.is_none());
        assert!(r.body_unsigned);
        let r = put_object_request("ns", "b", "o", vec![], &Condition::Matches("e1".into()));
        assert_eq!(r.if_match.as_deref(), Some("e1"));
        assert!(r.if_none_match.is_none());
        let d = delete_object_request("ns", "b", "o", Some("e2"));
        assert_eq!((d.method, d.if_match.as_deref()), ("DELETE", Some("e2")));
        assert_eq!(get_namespace_request().path, "/n/");
        let l = list_objects_request("ns", "b", "p/", Some("p/x"));
        assert_eq!(
            l.query,
            vec![
                ("prefix".to_string(), "p/".to_string()),
                ("start".to_string(), "p/x".to_string())
            ]
        );
    }
}
