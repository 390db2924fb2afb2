//! The `failover` section: VRRP timings, the preferred node, preemption, the health check and
//! the alert topic.

use super::checks::decimal_centis;
use super::Cx;
use crate::blueprint::yaml::{Node, Value};
use crate::blueprint::{AdvertInterval, Failover, HealthCheck};

const FAILOVER_KEYS: &[&str] = &[
    "advert_interval",
    "preferred_node",
    "preempt",
    "virtual_router_id",
    "recheck_interval",
    "health_check",
    "notify_topic",
];

const HEALTH_KEYS: &[&str] = &["command", "interval", "timeout", "fall", "rise"];

impl Cx {
    pub(super) fn failover(
        &mut self,
        node: &Node,
        path: &str,
        names: Option<&[String; 2]>,
    ) -> Option<Failover> {
        let f = self.fields(node, path, FAILOVER_KEYS)?;
        let d = default_failover();
        let advert_interval = match f.get("advert_interval") {
            Some(n) => self.advert(n, &f.path("advert_interval")),
            None => Some(d.advert_interval),
        };
        let preferred_node = match (f.get("preferred_node"), names) {
            (Some(n), Some(names)) => {
                let field = f.path("preferred_node");
                let want = self.string(n, &field, "instance1");
                match want {
                    Some(w) => match names.iter().position(|x| *x == w) {
                        Some(i) => Some(i),
                        None => {
                            self.err(
                                n.pos,
                                field,
                                format!("`{w}` is not one of the nodes"),
                                format!("use `{}` or `{}`", names[0], names[1]),
                            );
                            None
                        }
                    },
                    None => None,
                }
            }
            (Some(n), None) => {
                let _ = self.string(n, &f.path("preferred_node"), "instance1");
                None
            }
            (None, _) => Some(0),
        };
        let preempt = match f.get("preempt") {
            Some(n) => self.boolean(n, &f.path("preempt")),
            None => Some(d.preempt),
        };
        let virtual_router_id = match f.get("virtual_router_id") {
            Some(n) => self
                .uint(n, &f.path("virtual_router_id"), 1, 255, "a VRRP router id")
                .map(|v| v as u8),
            None => Some(d.virtual_router_id),
        };
        let recheck_interval = match f.get("recheck_interval") {
            Some(n) => self.uint(
                n,
                &f.path("recheck_interval"),
                1,
                3600,
                "the recheck interval (seconds)",
            ),
            None => Some(d.recheck_interval),
        };
        let health_check = match f.get("health_check") {
            Some(n) => self.health_check(n, &f.path("health_check")).map(Some),
            None => Some(None),
        };
        let notify_topic = match f.get("notify_topic") {
            Some(n) => self
                .ocid(n, &f.path("notify_topic"), &["onstopic"], true)
                .map(Some),
            None => Some(None),
        };
        Some(Failover {
            advert_interval: advert_interval?,
            preferred_node: preferred_node?,
            preempt: preempt?,
            virtual_router_id: virtual_router_id?,
            recheck_interval: recheck_interval?,
            health_check: health_check?,
            notify_topic: notify_topic?,
        })
    }

    /// Seconds as a number (`1`, `0.5`) or a string with a unit (`500ms`, `2s`).
    pub(super) fn advert(&mut self, node: &Node, field: &str) -> Option<AdvertInterval> {
        let hint = "use whole seconds from 1 to 255 (VRRPv2), or steps of 0.01 s from 0.01 to 40.95 (VRRPv3), e.g. `1` or `0.5` or `500ms`";
        let Value::Scalar { text, .. } = &node.value else {
            self.type_err(
                node,
                field,
                "a number of seconds",
                "`1` or `0.5` or `500ms`",
            );
            return None;
        };
        let text = text.trim();
        let centis = if let Some(ms) = text.strip_suffix("ms") {
            match ms.trim().parse::<u32>() {
                Ok(v) if v % 10 == 0 => Some(v / 10),
                Ok(_) => {
                    self.err(
                        node.pos,
                        field,
                        format!("advert interval `{text}` is not a multiple of 10 ms"),
                        hint,
                    );
                    return None;
                }
                Err(_) => None,
            }
        } else {
            decimal_centis(text.strip_suffix('s').unwrap_or(text).trim())
        };
        let Some(centis) = centis else {
            if text.parse::<f64>().is_ok_and(|v| v > 0.0) {
                self.err(
                    node.pos,
                    field,
                    format!("advert interval `{text}` is finer than keepalived's 0.01 s steps"),
                    hint,
                );
            } else {
                self.err(
                    node.pos,
                    field,
                    format!("`{text}` is not an advert interval keepalived can take"),
                    hint,
                );
            }
            return None;
        };
        match AdvertInterval::from_centis(centis) {
            Ok(a) => Some(a),
            Err(why) => {
                self.err(
                    node.pos,
                    field,
                    format!("advert interval `{text}` {why}"),
                    hint,
                );
                None
            }
        }
    }

    pub(super) fn health_check(&mut self, node: &Node, path: &str) -> Option<HealthCheck> {
        let f = self.fields(node, path, HEALTH_KEYS)?;
        let command = self
            .required(&f, "command", "curl -fsS -o /dev/null http://127.0.0.1/")
            .and_then(|n| {
                self.string(
                    n,
                    &f.path("command"),
                    "curl -fsS -o /dev/null http://127.0.0.1/",
                )
            });
        if let (Some(c), Some(n)) = (&command, f.get("command")) {
            if c.trim().is_empty() {
                self.err(n.pos, f.path("command"), "the health check command is empty", "give a shell command that exits 0 when the service is healthy, or remove health_check");
            }
        }
        let num = |cx: &mut Cx, key: &str, default: u32, max: u32| match f.get(key) {
            Some(n) => cx.uint(n, &f.path(key), 1, max, key),
            None => Some(default),
        };
        let interval = num(self, "interval", 2, 3600);
        let fall = num(self, "fall", 2, 100);
        let rise = num(self, "rise", 2, 100);
        let timeout = match f.get("timeout") {
            Some(n) => self.uint(n, &f.path("timeout"), 1, 3600, "timeout"),
            None => interval,
        };
        let command = command.filter(|c| !c.trim().is_empty());
        Some(HealthCheck {
            command: command?,
            interval: interval?,
            timeout: timeout?,
            fall: fall?,
            rise: rise?,
        })
    }
}

pub(super) fn default_failover() -> Failover {
    Failover {
        advert_interval: AdvertInterval::from_centis(100).expect("1 s is valid"),
        preferred_node: 0,
        preempt: false,
        virtual_router_id: 51,
        recheck_interval: 5,
        health_check: None,
        notify_topic: None,
    }
}
