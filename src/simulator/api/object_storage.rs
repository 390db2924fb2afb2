//! The Object Storage service of the simulator: the tenancy's namespace, buckets, and objects
//! with ETags and the conditional headers (`if-match`, `if-none-match: *`) that make a correct
//! lock and a lost-update-free state file possible (what vipsetup's remote state uses).
//!
//! Paths and operation names follow Oracle's Python SDK (`object_storage_client.py`):
//! `GET /n/` GetNamespace, `POST /n/{ns}/b/` CreateBucket, `GET /n/{ns}/b/{bucket}/o`
//! ListObjects, and `GET|HEAD|PUT|DELETE /n/{ns}/b/{bucket}/o/{object}` Get/Head/Put/DeleteObject.
//! PutObject's body is not signed: the SDKs sign it with `(request-target) host date` only
//! (py `put_object(... enforce_content_headers=False)`, go `RequestSignerExcludeBody`), which
//! `sig::check_request` allows for the operations in [`BODY_NOT_SIGNED`].
//!
//! Buckets are kept as kind `bucket` with id `<ns>/<bucket>`, objects as kind `object` with id
//! `<ns>/<bucket>/<object>`, the body base64 in `_body`.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use md5::{Digest, Md5};
use percent_encoding::percent_decode_str;
use serde_json::{json, Value};

use super::super::world::{self, rfc3339, Doc, World};
use super::super::{ApiErr, Principal, Resp};
use super::context::{s, Ctx};

pub const BUCKET: &str = "bucket";
pub const OBJECT: &str = "object";

/// Operations whose request body the SDKs do not sign (py `enforce_content_headers=False`).
pub const BODY_NOT_SIGNED: &[&str] = &["PutObject"];

/// The operation a method and path name, when this service owns it.
pub(super) fn route(method: &str, segs: &[&str]) -> Option<&'static str> {
    Some(match (method, segs) {
        ("GET", ["n"]) => "GetNamespace",
        ("POST", ["n", _, "b"]) => "CreateBucket",
        ("GET", ["n", _, "b", _, "o"]) => "ListObjects",
        ("GET", ["n", _, "b", _, "o", _, ..]) => "GetObject",
        ("HEAD", ["n", _, "b", _, "o", _, ..]) => "HeadObject",
        ("PUT", ["n", _, "b", _, "o", _, ..]) => "PutObject",
        ("DELETE", ["n", _, "b", _, "o", _, ..]) => "DeleteObject",
        _ => return None,
    })
}

/// The tenancy's namespace: set by seeding (`--simulate` uses the blueprint's), else derived from
/// the tenancy OCID (real namespaces are 12 or so lowercase letters and digits, fixed per tenancy).
pub fn namespace(w: &World) -> String {
    if !w.object_storage_namespace.is_empty() {
        return w.object_storage_namespace.clone();
    }
    let tail: String = w
        .tenancy_id
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_lowercase();
    tail[tail.len().saturating_sub(12)..].to_string()
}

/// Adds a bucket (seeding and `--simulate`); returns false when it was already there.
pub fn ensure_bucket(w: &mut World, name: &str, compartment_id: &str, region: &str) -> bool {
    let id = format!("{}/{name}", namespace(w));
    if w.get(BUCKET, &id).is_some() {
        return false;
    }
    let doc = bucket_doc(w, name, compartment_id, region, "simulator");
    w.resources
        .entry(BUCKET.to_string())
        .or_default()
        .insert(id, doc);
    true
}

fn bucket_doc(w: &mut World, name: &str, compartment_id: &str, region: &str, by: &str) -> Doc {
    let etag = w.new_etag();
    let ocid = w.new_id("bucket", Some(region));
    let now = w.now_ms();
    let mut d = Doc::new();
    for (k, v) in [
        ("namespace", json!(namespace(w))),
        ("name", json!(name)),
        ("id", json!(ocid)),
        ("compartmentId", json!(compartment_id)),
        ("createdBy", json!(by)),
        ("timeCreated", json!(rfc3339(now))),
        ("etag", json!(etag)),
        ("metadata", json!({})),
        ("publicAccessType", json!("NoPublicAccess")),
        ("storageTier", json!("Standard")),
        ("objectEventsEnabled", json!(false)),
        ("versioning", json!("Disabled")),
        ("freeformTags", json!({})),
        ("definedTags", json!({})),
        ("_etag", json!(etag)),
        ("_region", json!(region)),
    ] {
        d.insert(k.into(), v);
    }
    d
}

fn decode(seg: &str) -> String {
    percent_decode_str(seg).decode_utf8_lossy().into_owned()
}

fn bucket_not_found(ns: &str, bucket: &str) -> ApiErr {
    // Object Storage answers a missing and a forbidden bucket alike (API errors reference).
    ApiErr::new(
        404,
        "BucketNotFound",
        format!("Either the bucket named '{bucket}' does not exist in the namespace '{ns}' or you are not authorized to access it"),
    )
}

fn object_not_found(bucket: &str, object: &str) -> ApiErr {
    ApiErr::new(
        404,
        "ObjectNotFound",
        format!("The object '{object}' was not found in the bucket '{bucket}'"),
    )
}

fn md5_b64(body: &[u8]) -> String {
    STANDARD.encode(Md5::digest(body))
}

impl Ctx<'_> {
    /// (namespace, bucket, object) from `/n/{ns}/b/{bucket}/o/{object...}`, decoded. An object
    /// name may hold `/`, sent as is or as `%2F` (the SDKs encode path parameters).
    fn os_path(&self) -> (String, String, String) {
        let segs: Vec<&str> = self.req.path.split('/').skip(1).collect();
        let get = |i: usize| segs.get(i).map(|x| decode(x)).unwrap_or_default();
        let object = if segs.len() > 5 {
            segs[5..]
                .iter()
                .map(|x| decode(x))
                .collect::<Vec<_>>()
                .join("/")
        } else {
            String::new()
        };
        (get(1), get(3), object)
    }

    /// A namespace that is not the tenancy's is answered 404 like a missing bucket would be.
    /// Guess: the code a foreign namespace gets (NamespaceNotFound) is from memory of the API
    /// errors page, not checked against a live answer.
    fn check_namespace(&self, ns: &str) -> Result<(), ApiErr> {
        if ns != namespace(self.w) {
            return Err(ApiErr::new(
                404,
                "NamespaceNotFound",
                format!("You do not have authorization to perform this request, or the namespace '{ns}' could not be found."),
            ));
        }
        Ok(())
    }

    /// The bucket in this request's region, authorized for `perms`.
    fn bucket(&self, ns: &str, name: &str, perms: &[&str]) -> Result<Doc, ApiErr> {
        self.check_namespace(ns)?;
        let d = self
            .w
            .get(BUCKET, &format!("{ns}/{name}"))
            .filter(|d| s(d, "_region") == self.req.region)
            .cloned()
            .ok_or_else(|| bucket_not_found(ns, name))?;
        // A principal without the permission gets the same 404 as a missing bucket.
        self.authorize_with(s(&d, "compartmentId"), perms)
            .map_err(|_| bucket_not_found(ns, name))?;
        Ok(d)
    }

    fn object(&self, ns: &str, bucket: &str, name: &str) -> Option<Doc> {
        self.w
            .get(OBJECT, &format!("{ns}/{bucket}/{name}"))
            .cloned()
    }

    /// Runs the operation when this service owns it.
    pub(super) fn run_object_storage(&mut self) -> Option<Result<Resp, ApiErr>> {
        Some(match self.op {
            "GetNamespace" => {
                // GetNamespace needs no permission; `compartmentId` is optional (py get_namespace).
                Ok(Resp::json(200, &json!(namespace(self.w))))
            }
            "CreateBucket" => self.create_bucket(),
            "ListObjects" => self.list_objects(),
            "GetObject" | "HeadObject" => self.get_object(),
            "PutObject" => self.put_object(),
            "DeleteObject" => self.delete_object(),
            _ => return None,
        })
    }

    fn create_bucket(&mut self) -> Result<Resp, ApiErr> {
        let (ns, _, _) = self.os_path();
        self.check_namespace(&ns)?;
        let b = self.body()?;
        let name = b
            .get("name")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
            .ok_or_else(|| ApiErr::missing("name"))?
            .to_string();
        let compartment = b
            .get("compartmentId")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
            .ok_or_else(|| ApiErr::missing("compartmentId"))?
            .to_string();
        // Bucket names: letters, digits, hyphens, underscores and periods, at most 256
        // characters (Object Storage docs, "Managing Buckets").
        if name.len() > 256
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            return Err(ApiErr::invalid(format!(
                "The bucket name '{name}' is not valid: use letters, numbers, hyphens, underscores and periods"
            )));
        }
        if !(compartment == self.w.tenancy_id
            || self.w.get(world::COMPARTMENT, &compartment).is_some())
        {
            return Err(ApiErr::not_found());
        }
        self.authorize(&compartment)?;
        let id = format!("{ns}/{name}");
        if self.w.get(BUCKET, &id).is_some() {
            // Bucket names are unique per namespace across regions (docs, "Managing Buckets").
            return Err(ApiErr::new(
                409,
                "BucketAlreadyExists",
                format!("Either the bucket '{name}' in namespace '{ns}' already exists or you are not authorized to create it"),
            ));
        }
        let by = match self.p {
            Principal::User(u) => u.clone(),
            Principal::Instance { id, .. } => id.clone(),
        };
        let region = self.req.region.clone();
        let doc = bucket_doc(self.w, &name, &compartment, &region, &by);
        self.w
            .resources
            .entry(BUCKET.to_string())
            .or_default()
            .insert(id, doc.clone());
        self.mutated = true;
        let out: serde_json::Map<String, Value> = doc
            .iter()
            .filter(|(k, _)| !k.starts_with('_'))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Ok(Resp::json(200, &Value::Object(out)).header("etag", s(&doc, "_etag")))
    }

    fn list_objects(&self) -> Result<Resp, ApiErr> {
        let (ns, bucket, _) = self.os_path();
        self.bucket(&ns, &bucket, &["OBJECT_INSPECT"])?;
        // limit: 1..=1000, default 1000 (py list_objects docstring).
        let limit = match self.req.q("limit") {
            Some(l) => match l.parse::<usize>() {
                Ok(n) if (1..=1000).contains(&n) => n,
                _ => return Err(ApiErr::invalid("limit must be between 1 and 1000")),
            },
            None => 1000,
        };
        let prefix = self.req.q("prefix").unwrap_or_default();
        let start = self.req.q("start").unwrap_or_default();
        let end = self.req.q("end");
        let delimiter = self.req.q("delimiter");
        if delimiter.is_some_and(|d| d != "/") {
            // "Only '/' is a supported delimiter character at this time" (py docstring).
            return Err(ApiErr::invalid("Only '/' is a supported delimiter"));
        }
        // The summary holds `name` only unless `fields` asks for more (py docstring).
        let fields: Vec<&str> = self
            .req
            .q("fields")
            .map(|f| f.split(',').map(str::trim).collect())
            .unwrap_or_default();
        let key = format!("{ns}/{bucket}/");
        let mut objects = Vec::new();
        let mut prefixes = std::collections::BTreeSet::new();
        let mut next = None;
        for (id, d) in self.w.resources.get(OBJECT).into_iter().flatten() {
            let Some(name) = id.strip_prefix(&key) else {
                continue;
            };
            if !name.starts_with(prefix) || name < start || end.is_some_and(|e| name >= e) {
                continue;
            }
            if let Some(rest) = delimiter.and_then(|dl| {
                name[prefix.len()..]
                    .find(dl)
                    .map(|i| &name[..prefix.len() + i + 1])
            }) {
                prefixes.insert(rest.to_string());
                continue;
            }
            if objects.len() == limit {
                next = Some(name.to_string());
                break;
            }
            let mut o = serde_json::Map::new();
            o.insert("name".into(), json!(name));
            for f in &fields {
                let v = match *f {
                    "size" => json!(self.body_of(d).len()),
                    "etag" => json!(s(d, "_etag")),
                    "md5" => json!(md5_b64(&self.body_of(d))),
                    "timeCreated" => json!(s(d, "_timeCreated")),
                    "timeModified" => json!(s(d, "_timeModified")),
                    _ => continue,
                };
                o.insert((*f).into(), v);
            }
            objects.push(Value::Object(o));
        }
        let mut body = json!({ "objects": objects, "prefixes": prefixes });
        if let Some(n) = next {
            body["nextStartWith"] = json!(n);
        }
        Ok(Resp::json(200, &body))
    }

    fn body_of(&self, d: &Doc) -> Vec<u8> {
        STANDARD.decode(s(d, "_body")).unwrap_or_default()
    }

    fn get_object(&self) -> Result<Resp, ApiErr> {
        let (ns, bucket, name) = self.os_path();
        self.bucket(&ns, &bucket, &["OBJECT_READ"])?;
        let d = self
            .object(&ns, &bucket, &name)
            .ok_or_else(|| object_not_found(&bucket, &name))?;
        let etag = s(&d, "_etag").to_string();
        if let Some(m) = self.req.header("if-match") {
            if m != etag {
                return Err(if_match_failed(m, &etag));
            }
        }
        // GET/HEAD with a matching if-none-match answer 304 (py get_object docstring).
        if self.req.header("if-none-match") == Some(etag.as_str()) {
            return Ok(Resp::empty(304).header("etag", etag));
        }
        let body = self.body_of(&d);
        let mut r = Resp {
            status: 200,
            headers: Vec::new(),
            body: if self.op == "HeadObject" {
                Vec::new()
            } else {
                body.clone()
            },
            content_type: "application/octet-stream",
            chunked: false,
        };
        r = r
            .header("etag", etag)
            .header("content-md5", md5_b64(&body))
            .header("last-modified", s(&d, "_lastModified"))
            .header("content-type", s(&d, "_contentType"))
            .header("archival-state", "Available");
        if self.op == "HeadObject" {
            r = r.header("content-length", body.len().to_string());
        }
        Ok(r)
    }

    fn put_object(&mut self) -> Result<Resp, ApiErr> {
        let (ns, bucket, name) = self.os_path();
        let b = self.bucket(&ns, &bucket, &["OBJECT_CREATE"])?;
        // Object names: 1 to 1024 bytes (Object Storage docs, "Object Names").
        if name.is_empty() || name.len() > 1024 {
            return Err(ApiErr::invalid(
                "The object name must be between 1 and 1024 bytes",
            ));
        }
        let existing = self.object(&ns, &bucket, &name);
        if existing.is_some() {
            self.authorize_with(
                s(&b, "compartmentId"),
                &["OBJECT_CREATE", "OBJECT_OVERWRITE"],
            )
            .map_err(|_| bucket_not_found(&ns, &bucket))?;
        }
        match self.req.header("if-none-match") {
            // "The only valid value is '*'" (py put_object docstring). Guess: the 400 code.
            Some(v) if v != "*" => {
                return Err(ApiErr::invalid(
                    "The only valid value of the if-none-match header is '*'",
                ))
            }
            Some(_) if existing.is_some() => {
                // 412 IfNoneMatchFailed: recorded from live Object Storage answers.
                return Err(ApiErr::new(
                    412,
                    "IfNoneMatchFailed",
                    format!("The If-None-Match header is '*' but there is an existing entity with the name '{name}'"),
                ));
            }
            _ => {}
        }
        if let Some(m) = self.req.header("if-match") {
            // No current entity means the precondition fails too (RFC 7232 §3.1).
            let current = existing.as_ref().map(|d| s(d, "_etag")).unwrap_or_default();
            if m != current {
                return Err(if_match_failed(m, current));
            }
        }
        let etag = new_object_etag();
        let now = rfc3339(self.now);
        let last_modified = httpdate::fmt_http_date(
            std::time::UNIX_EPOCH + std::time::Duration::from_millis(self.now.max(0) as u64),
        );
        let created = existing
            .as_ref()
            .map(|d| s(d, "_timeCreated").to_string())
            .unwrap_or_else(|| now.clone());
        let content_type = self
            .req
            .header("content-type")
            .unwrap_or("application/octet-stream")
            .to_string();
        let body = self.req.body.clone();
        let mut d = Doc::new();
        for (k, v) in [
            ("name", json!(name)),
            ("_etag", json!(etag)),
            ("_body", json!(STANDARD.encode(&body))),
            ("_contentType", json!(content_type)),
            ("_timeCreated", json!(created)),
            ("_timeModified", json!(now)),
            ("_lastModified", json!(last_modified)),
        ] {
            d.insert(k.into(), v);
        }
        self.w
            .resources
            .entry(OBJECT.to_string())
            .or_default()
            .insert(format!("{ns}/{bucket}/{name}"), d);
        self.mutated = true;
        Ok(Resp::empty(200)
            .header("etag", etag)
            .header("opc-content-md5", md5_b64(&body))
            .header("last-modified", last_modified))
    }

    fn delete_object(&mut self) -> Result<Resp, ApiErr> {
        let (ns, bucket, name) = self.os_path();
        self.bucket(&ns, &bucket, &["OBJECT_DELETE"])?;
        // Guess: a missing object is 404 before any precondition is looked at, as OCI's other
        // deletes do.
        let d = self
            .object(&ns, &bucket, &name)
            .ok_or_else(|| object_not_found(&bucket, &name))?;
        if let Some(m) = self.req.header("if-match") {
            if m != s(&d, "_etag") {
                return Err(if_match_failed(m, s(&d, "_etag")));
            }
        }
        self.w.remove(OBJECT, &format!("{ns}/{bucket}/{name}"));
        self.mutated = true;
        Ok(Resp::empty(204).header(
            "last-modified",
            httpdate::fmt_http_date(
                std::time::UNIX_EPOCH + std::time::Duration::from_millis(self.now.max(0) as u64),
            ),
        ))
    }
}

/// 412 IfMatchFailed: recorded from live Object Storage answers (PUT and DELETE with a stale
/// etag). Guess: the message wording.
fn if_match_failed(given: &str, current: &str) -> ApiErr {
    ApiErr::new(
        412,
        "IfMatchFailed",
        format!("The If-Match header is '{given}' but the current entity tag is '{current}'"),
    )
}

/// Object ETags are UUIDs (as Object Storage returns them).
fn new_object_etag() -> String {
    let h = world::random_suffix(32);
    let h: String = h
        .chars()
        .map(|c| {
            let v = c as u32 % 16;
            std::char::from_digit(v, 16).unwrap_or('0')
        })
        .collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}
