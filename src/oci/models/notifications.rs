//! Notifications (ONS) models: the topic vipsetup's agent publishes failover alerts to.

use serde::{Deserialize, Serialize};

/// A Notifications topic (py ons/models/notification_topic.py): it has `topicId`, not `id`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NotificationTopic {
    pub topic_id: String,
    pub name: Option<String>,
    pub compartment_id: String,
    pub lifecycle_state: Option<String>,
}
