//! The blueprint as the engine sees it (`PairSpec`), and the renderer bound to it: the one place
//! that knows both the blueprint's types and the engine's.

use std::path::Path;

use crate::blueprint::{self, Blueprint, ImageSpec};
use crate::engine::model::DesiredPublicIp;
use crate::engine::resolve::{ImageChoice, NodeSpec, PairSpec};
use crate::render::{self, AgentSettings, Facts};

use super::error::BlueprintError;
use super::pair::{RenderFacts, RenderedUserData};
use super::target::BoxRenderer;

pub fn load(path: &Path) -> Result<Blueprint, BlueprintError> {
    blueprint::load(path).map_err(BlueprintError)
}

pub fn pair_spec(bp: &Blueprint) -> PairSpec {
    PairSpec {
        pair: bp.name.clone(),
        compartment_id: bp.oci.compartment.to_string(),
        subnet_id: bp.network.subnet.to_string(),
        vip: bp.network.vip,
        extra_vips: bp.network.vips[1..]
            .iter()
            .map(|v| std::net::IpAddr::V4(*v))
            .chain(bp.network.vip6.iter().map(|v| std::net::IpAddr::V6(*v)))
            .collect(),
        notify_topic: bp.failover.notify_topic.as_ref().map(|t| t.to_string()),
        public_ip: bp.network.public_ip.as_ref().map(|p| match p {
            blueprint::PublicIpSpec::Reserved => DesiredPublicIp::Reserved,
            blueprint::PublicIpSpec::Existing(o) => DesiredPublicIp::Existing(o.to_string()),
        }),
        preferred: bp.failover.preferred_node,
        nodes: [0, 1].map(|i| NodeSpec {
            name: bp.nodes[i].name.clone(),
            private_ip: bp.nodes[i].private_ip,
            fault_domain: bp.nodes[i].fault_domain.clone(),
        }),
        shape: bp.instance.shape.clone(),
        ocpus: bp.instance.ocpus.map(|v| v as f32),
        memory_in_gbs: bp.instance.memory_gb.map(|v| v as f32),
        availability_domain: bp.instance.availability_domain.clone(),
        image: match &bp.instance.image {
            ImageSpec::Ocid(o) => ImageChoice::Ocid(o.to_string()),
            ImageSpec::Lookup {
                operating_system,
                version,
            } => ImageChoice::Lookup {
                os: operating_system.clone(),
                version: version.clone(),
            },
        },
        ssh_authorized_keys: bp.instance.ssh_authorized_keys(),
        assign_public_ip: bp.network.assign_public_ip,
        dynamic_group: bp.iam.dynamic_group.clone(),
        policy: bp.iam.policy.clone(),
        extra_statements: bp.iam.extra_statements.clone(),
        tags: bp.tags.clone(),
    }
}

/// The renderer `apply` calls once the node addresses and the subnet are known.
pub fn renderer(bp: Blueprint, region: String, agent: AgentSettings) -> BoxRenderer {
    Box::new(move |f: &RenderFacts| {
        let subnet_cidr = ipnet::Ipv4Net::new(f.subnet_cidr.network, f.subnet_cidr.prefix)
            .map_err(|e| e.to_string())?;
        let facts = Facts {
            node_ips: f.node_ips,
            subnet_cidr,
            region: region.clone(),
            agent: agent.clone(),
        };
        let nodes = render::render(&bp, &facts).map_err(|e| e.to_string())?;
        let [a, b]: [render::RenderedNode; 2] = nodes
            .try_into()
            .map_err(|_| "the renderer did not return two nodes".to_string())?;
        Ok([a, b].map(|n| RenderedUserData {
            name: n.name,
            cloud_config: n.cloud_config,
            user_data: n.user_data,
            boot: crate::engine::model::NodeBoot {
                install_digest: n.install_digest,
                first_settings_digest: n.first_settings_digest,
                settings_payload: n.settings.payload,
                settings_digest: n.settings.digest,
            },
        }))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::executor::tests::FakeCloud;
    use crate::engine::executor::ExecOptions;
    use crate::engine::progress::Silent;
    use crate::ops::pair::Session;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn quickstart_applies_with_user_data_rendered_for_its_addresses() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("blueprints/quickstart.yaml");
        let bp = load(&path).unwrap();
        let spec = pair_spec(&bp);
        assert_eq!(spec.pair, "quickstart");
        assert!(spec.ssh_authorized_keys.starts_with("ssh-"));
        let render = renderer(bp, "ap-tokyo-1".into(), AgentSettings::default());
        let dir = tempfile::tempdir().unwrap();
        let cloud = FakeCloud::default();
        let sess = Session {
            cloud: &cloud,
            tenancy_id: "ocid1.tenancy.oc1..t".into(),
            spec,
            backend: crate::engine::backend::Backend::local(dir.path().join("s.json")),
            lock_timeout: Duration::ZERO,
            render: render.as_ref(),
            exec: ExecOptions {
                poll_interval: Duration::from_secs(1),
                wait_timeout: Duration::from_secs(60),
            },
            upgrade_image: false,
        };
        let yes = |_: &crate::engine::plan::Plan| true;
        let p = sess.prepare(&[]).await.unwrap();
        for i in 0..2 {
            let ud = &p.desired.nodes[i].user_data;
            let text = crate::render::decode_user_data(ud).unwrap();
            assert_eq!(text, p.rendered[i].cloud_config);
            assert!(text.starts_with("#cloud-config"));
        }
        let out = sess
            .apply(&[], &yes, &Silent, &dir.path().join("r"))
            .await
            .unwrap();
        assert_eq!(
            out.report.nodes[0].private_ip,
            Some("172.16.2.11".parse().unwrap())
        );
        assert!(dir.path().join("r/instance2.cloud-init.yaml").exists());
        assert!(!sess.plan(&[]).await.unwrap().has_changes());
    }
}
