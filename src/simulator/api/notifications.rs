//! OCI Notifications: GetTopic (control plane) and PublishMessage (data plane), both under
//! `/20181201` on `notification.<region>.<domain>` (oci-python-sdk ons/notification_*_client.py:
//! `base_path '/20181201'`, `resource_path "/topics/{topicId}"` and
//! `"/topics/{topicId}/messages"`). Every published message is kept in the world, so tests read
//! what a takeover announced (`GET /_sim/messages`).

use serde_json::{json, Value};

use super::context::{s, Ctx};
use crate::simulator::world::{self, rfc3339};
use crate::simulator::{ApiErr, Resp};

/// The operation a method and path name, when this file owns it.
pub(super) fn route(method: &str, segs: &[&str]) -> Option<&'static str> {
    Some(match (method, segs) {
        ("GET", ["20181201", "topics", _]) => "GetTopic",
        ("POST", ["20181201", "topics", _, "messages"]) => "PublishMessage",
        _ => return None,
    })
}

/// "Message size limit per request: 64KB" (publish_message docstring). Counting title and body
/// together, in bytes, and the 400 code are guesses.
const MAX_MESSAGE_BYTES: usize = 64 * 1024;

impl Ctx<'_> {
    pub(super) fn run_notifications(&mut self) -> Option<Result<Resp, ApiErr>> {
        Some(match self.op {
            "GetTopic" => self.get_topic(),
            "PublishMessage" => self.publish_message(),
            _ => return None,
        })
    }

    /// The topic named by the path: `/20181201/topics/{id}`, the id is the fourth segment.
    fn topic(&self) -> Result<world::Doc, ApiErr> {
        let id = self.id().to_string();
        let d = self.doc(world::TOPIC, &id)?;
        self.authorize(s(&d, "compartmentId"))?;
        Ok(d)
    }

    /// NotificationTopic has `topicId`, not `id` (ons/models/notification_topic.py); its etag is
    /// a field of the body as well as the header.
    fn get_topic(&self) -> Result<Resp, ApiErr> {
        let d = self.topic()?;
        let mut v = self.render(world::TOPIC, &d);
        if let Some(m) = v.as_object_mut() {
            m.remove("id");
            m.insert("etag".into(), json!(s(&d, "_etag")));
        }
        Ok(Resp::json(200, &v).header("etag", s(&d, "_etag")))
    }

    /// MessageDetails: `body` required, `title` optional (ons/models/message_details.py); the
    /// answer is a PublishResult `{messageId, timeStamp}` (ons/models/publish_result.py).
    fn publish_message(&mut self) -> Result<Resp, ApiErr> {
        let topic = self.topic()?;
        if s(&topic, "lifecycleState") != "ACTIVE" {
            return Err(ApiErr::new(
                409,
                "IncorrectState",
                format!("Topic {} is not ACTIVE", s(&topic, "id")),
            ));
        }
        let b = self.body()?;
        let body = match b.get("body") {
            Some(Value::String(t)) => t.clone(),
            Some(_) => return Err(ApiErr::invalid("body must be a string")),
            None => return Err(ApiErr::missing("body")),
        };
        let title = match b.get("title") {
            None | Some(Value::Null) => None,
            Some(Value::String(t)) => Some(t.clone()),
            Some(_) => return Err(ApiErr::invalid("title must be a string")),
        };
        let size = body.len() + title.as_ref().map_or(0, String::len);
        if size > MAX_MESSAGE_BYTES {
            return Err(ApiErr::invalid(format!(
                "The message is {size} bytes; the limit is {MAX_MESSAGE_BYTES} bytes per request"
            )));
        }
        let region = self.req.region.clone();
        let message_id = self.w.new_id("onsmessage", Some(&region));
        let at = rfc3339(self.now);
        let seq = self.w.seq;
        self.w.insert(
            world::MESSAGE,
            json!({"id": message_id, "topicId": s(&topic, "id"), "title": title, "body": body,
                   "messageType": self.req.header("messagetype"), "timeStamp": at,
                   "publishedBy": self.p.label(), "_region": region, "_seq": seq}),
        );
        self.mutated = true;
        Ok(Resp::json(
            200,
            &json!({"messageId": message_id, "timeStamp": at}),
        ))
    }
}
