//! `Cloud` over the real OCI client: each engine operation as one or a few OCI calls, "not found"
//! turned into `None` (gets) or success (deletes), and OCI errors kept with their request ids.

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::oci::models::{
    AddNetworkSecurityGroupSecurityRulesDetails, AddSecurityRuleDetails, CreateDynamicGroupDetails,
    CreateIpv6Details, CreateNetworkSecurityGroupDetails, CreatePolicyDetails,
    CreatePrivateIpDetails, CreatePublicIpDetails, CreateVnicDetails,
    InstanceSourceViaImageDetails, LaunchInstanceDetails, LaunchInstanceShapeConfigDetails,
    NetworkSecurityGroup, SecurityRuleDirection, UpdateDynamicGroupDetails, UpdateInstanceDetails,
    UpdateInstanceShapeConfigDetails, UpdateIpv6Details, UpdateNetworkSecurityGroupDetails,
    UpdatePolicyDetails, UpdatePrivateIpDetails, UpdatePublicIpDetails, UpdateVnicDetails,
};
use crate::oci::{
    Client, ListImagesRequest, ListInstancesRequest, ListIpv6sRequest, ListPrivateIpsRequest,
};

use super::cloud::{
    Cloud, CloudError, CloudFuture, DynamicGroupSpec, ImageDetails, InstanceSpec, InstanceUpdate,
    Ipv6Spec, NsgSpec, PolicySpec, PrivateIpSpec, ReservedIpSpec, Tags,
};
use super::egress::{Egress, Route, RouteTarget};
use super::model::{
    LiveAddress, LiveDynamicGroup, LiveInstance, LiveNsg, LivePolicy, LivePrivateIp, LivePublicIp,
    LiveSubnet, LiveVnic, NsgRule, VRRP_RULE_DESCRIPTION,
};

mod answers;

use answers::{
    found, gone, live_dg, live_instance, live_ip, live_policy, live_public_ip, ok, ours,
};

pub struct OciCloud {
    pub client: Client,
}

impl OciCloud {
    /// UpdatePrivateIp sending only the fields `d` sets (unset ones are left out of the body,
    /// so OCI keeps them as they are): shared by the move and the retag.
    async fn update_private_ip(
        &self,
        id: &str,
        d: UpdatePrivateIpDetails,
    ) -> Result<(), CloudError> {
        ok(
            "UpdatePrivateIp",
            self.client.update_private_ip(id, &d, None).await,
        )?;
        Ok(())
    }

    async fn nsg_with_rules(&self, n: NetworkSecurityGroup) -> Result<LiveNsg, CloudError> {
        let rules = ok(
            "ListNetworkSecurityGroupSecurityRules",
            self.client
                .list_network_security_group_security_rules(&n.id, None)
                .await,
        )?;
        Ok(LiveNsg {
            lifecycle_state: n.lifecycle_state.as_str().to_string(),
            rules: rules
                .into_iter()
                .map(|r| NsgRule {
                    direction: r.direction.as_str().to_string(),
                    protocol: r.protocol,
                    peer: r.source.or(r.destination),
                    id: r.id,
                    description: r.description,
                })
                .collect(),
            tags: n.freeform_tags,
            id: n.id,
        })
    }
}

impl Cloud for OciCloud {
    fn get_subnet<'a>(&'a self, id: &'a str) -> CloudFuture<'a, Option<LiveSubnet>> {
        Box::pin(async move {
            let s = found("GetSubnet", self.client.get_subnet(id).await)?;
            Ok(s.map(|s| LiveSubnet {
                id: s.value.id,
                compartment_id: s.value.compartment_id,
                dns_label: s.value.dns_label,
                cidr_block: s.value.cidr_block,
                vcn_id: s.value.vcn_id,
                availability_domain: s.value.availability_domain,
                lifecycle_state: s.value.lifecycle_state.as_str().to_string(),
                prohibit_public_ip: s.value.prohibit_public_ip_on_vnic == Some(true),
                ipv6_prefixes: {
                    let mut all = s.value.ipv6_cidr_blocks;
                    if let Some(one) = s.value.ipv6_cidr_block.filter(|b| !all.contains(b)) {
                        all.push(one);
                    }
                    all
                },
            }))
        })
    }

    fn availability_domains<'a>(&'a self, tenancy_id: &'a str) -> CloudFuture<'a, Vec<String>> {
        Box::pin(async move {
            let ads = ok(
                "ListAvailabilityDomains",
                self.client.list_availability_domains(tenancy_id).await,
            )?;
            Ok(ads.into_iter().map(|a| a.name).collect())
        })
    }

    fn newest_image<'a>(
        &'a self,
        compartment_id: &'a str,
        os: &'a str,
        version: &'a str,
        shape: &'a str,
    ) -> CloudFuture<'a, Option<String>> {
        Box::pin(async move {
            let q = ListImagesRequest {
                compartment_id: compartment_id.to_string(),
                operating_system: Some(os.to_string()),
                operating_system_version: Some(version.to_string()),
                shape: Some(shape.to_string()),
                lifecycle_state: Some("AVAILABLE".into()),
                sort_by: Some("TIMECREATED".into()),
                sort_order: Some("DESC".into()),
                ..Default::default()
            };
            let images = ok("ListImages", self.client.list_images(&q).await)?;
            Ok(images.into_iter().next().map(|i| i.id))
        })
    }

    fn subnet_ips<'a>(&'a self, subnet_id: &'a str) -> CloudFuture<'a, Vec<Ipv4Addr>> {
        Box::pin(async move {
            let q = ListPrivateIpsRequest {
                subnet_id: Some(subnet_id.to_string()),
                ..Default::default()
            };
            let ips = ok("ListPrivateIps", self.client.list_private_ips(&q).await)?;
            Ok(ips
                .iter()
                .filter_map(|p| p.ip_address.parse().ok())
                .collect())
        })
    }

    fn fault_domains<'a>(
        &'a self,
        compartment_id: &'a str,
        availability_domain: &'a str,
    ) -> CloudFuture<'a, Vec<String>> {
        Box::pin(async move {
            let fds = ok(
                "ListFaultDomains",
                self.client
                    .list_fault_domains(compartment_id, availability_domain)
                    .await,
            )?;
            Ok(fds.into_iter().map(|f| f.name).collect())
        })
    }

    fn shapes<'a>(
        &'a self,
        compartment_id: &'a str,
        availability_domain: &'a str,
        image_id: Option<&'a str>,
    ) -> CloudFuture<'a, Vec<String>> {
        Box::pin(async move {
            let shapes = ok(
                "ListShapes",
                self.client
                    .list_shapes(compartment_id, Some(availability_domain), image_id)
                    .await,
            )?;
            Ok(shapes.into_iter().map(|s| s.shape).collect())
        })
    }

    fn get_image<'a>(&'a self, id: &'a str) -> CloudFuture<'a, Option<String>> {
        Box::pin(async move {
            Ok(found("GetImage", self.client.get_image(id).await)?
                .map(|i| i.value.lifecycle_state.as_str().to_string()))
        })
    }

    fn image_details<'a>(&'a self, id: &'a str) -> CloudFuture<'a, Option<ImageDetails>> {
        Box::pin(async move {
            Ok(
                found("GetImage", self.client.get_image(id).await)?.map(|i| ImageDetails {
                    id: i.value.id,
                    name: i.value.display_name,
                    os: i.value.operating_system,
                    version: i.value.operating_system_version,
                }),
            )
        })
    }

    fn egress<'a>(&'a self, subnet_id: &'a str) -> CloudFuture<'a, Egress> {
        Box::pin(async move {
            let subnet = ok("GetSubnet", self.client.get_subnet(subnet_id).await)?.value;
            let rt_id = subnet.route_table_id.unwrap_or_default();
            let rt = ok("GetRouteTable", self.client.get_route_table(&rt_id).await)?;
            let mut routes = Vec::new();
            for r in rt.route_rules {
                let id = r.network_entity_id.as_str();
                // The kind of gateway is in its OCID (docs: General/Concepts/identifiers.htm).
                let target = if id.starts_with("ocid1.servicegateway.") {
                    let g = ok(
                        "GetServiceGateway",
                        self.client.get_service_gateway(id).await,
                    )?;
                    RouteTarget::ServiceGateway {
                        all_services: g.services.iter().any(|s| {
                            s.service_name.as_deref().is_some_and(|n| {
                                n.starts_with("All ")
                                    && n.ends_with("Services In Oracle Services Network")
                            })
                        }),
                        blocked: g.block_traffic.unwrap_or(false),
                    }
                } else if id.starts_with("ocid1.natgateway.") {
                    let g = ok("GetNatGateway", self.client.get_nat_gateway(id).await)?;
                    RouteTarget::NatGateway {
                        blocked: g.block_traffic.unwrap_or(false),
                    }
                } else if id.starts_with("ocid1.internetgateway.") {
                    let g = ok(
                        "GetInternetGateway",
                        self.client.get_internet_gateway(id).await,
                    )?;
                    RouteTarget::InternetGateway {
                        enabled: g.is_enabled.unwrap_or(true),
                    }
                } else {
                    RouteTarget::Other
                };
                routes.push(Route {
                    destination: r.destination.unwrap_or_default(),
                    destination_type: r.destination_type.unwrap_or_else(|| "CIDR_BLOCK".into()),
                    target,
                });
            }
            Ok(Egress {
                subnet_id: subnet_id.to_string(),
                route_table_id: rt_id,
                routes,
            })
        })
    }

    fn hostname_holder<'a>(
        &'a self,
        subnet_id: &'a str,
        hostname: &'a str,
    ) -> CloudFuture<'a, Option<String>> {
        Box::pin(async move {
            let q = ListPrivateIpsRequest {
                subnet_id: Some(subnet_id.to_string()),
                ..Default::default()
            };
            let ips = ok("ListPrivateIps", self.client.list_private_ips(&q).await)?;
            Ok(ips
                .into_iter()
                .find(|p| {
                    p.hostname_label
                        .as_deref()
                        .is_some_and(|h| h.eq_ignore_ascii_case(hostname))
                })
                .map(|p| p.id))
        })
    }

    fn get_nsg<'a>(&'a self, id: &'a str) -> CloudFuture<'a, Option<LiveNsg>> {
        Box::pin(async move {
            match found(
                "GetNetworkSecurityGroup",
                self.client.get_network_security_group(id).await,
            )? {
                Some(n) => Ok(Some(self.nsg_with_rules(n.value).await?)),
                None => Ok(None),
            }
        })
    }

    fn find_nsg<'a>(
        &'a self,
        compartment_id: &'a str,
        vcn_id: &'a str,
        pair: &'a str,
    ) -> CloudFuture<'a, Option<LiveNsg>> {
        Box::pin(async move {
            let all = ok(
                "ListNetworkSecurityGroups",
                self.client
                    .list_network_security_groups(compartment_id, Some(vcn_id), None)
                    .await,
            )?;
            let n = all.into_iter().find(|n| {
                ours(&n.freeform_tags, pair, "nsg")
                    && !matches!(n.lifecycle_state.as_str(), "TERMINATING" | "TERMINATED")
            });
            match n {
                Some(n) => Ok(Some(self.nsg_with_rules(n).await?)),
                None => Ok(None),
            }
        })
    }

    fn create_nsg<'a>(&'a self, spec: &'a NsgSpec, token: &'a str) -> CloudFuture<'a, String> {
        Box::pin(async move {
            let d = CreateNetworkSecurityGroupDetails {
                compartment_id: spec.compartment_id.clone(),
                vcn_id: spec.vcn_id.clone(),
                display_name: Some(spec.display_name.clone()),
                freeform_tags: Some(spec.tags.clone()),
                defined_tags: None,
            };
            let n = ok(
                "CreateNetworkSecurityGroup",
                self.client
                    .create_network_security_group(&d, Some(token))
                    .await,
            )?;
            Ok(n.value.id)
        })
    }

    fn add_nsg_rules<'a>(&'a self, nsg_id: &'a str, rules: &'a [NsgRule]) -> CloudFuture<'a, ()> {
        Box::pin(async move {
            let security_rules = rules
                .iter()
                .map(|r| {
                    let ingress = r.direction == "INGRESS";
                    AddSecurityRuleDetails {
                        direction: if ingress {
                            SecurityRuleDirection::Ingress
                        } else {
                            SecurityRuleDirection::Egress
                        },
                        protocol: r.protocol.clone(),
                        source: if ingress { r.peer.clone() } else { None },
                        source_type: if ingress {
                            Some("NETWORK_SECURITY_GROUP".into())
                        } else {
                            None
                        },
                        destination: if ingress { None } else { r.peer.clone() },
                        destination_type: if ingress {
                            None
                        } else {
                            Some("NETWORK_SECURITY_GROUP".into())
                        },
                        is_stateless: Some(false),
                        description: Some(VRRP_RULE_DESCRIPTION.into()),
                        tcp_options: None,
                        udp_options: None,
                        icmp_options: None,
                    }
                })
                .collect();
            let d = AddNetworkSecurityGroupSecurityRulesDetails { security_rules };
            ok(
                "AddNetworkSecurityGroupSecurityRules",
                self.client
                    .add_network_security_group_security_rules(nsg_id, &d)
                    .await,
            )?;
            Ok(())
        })
    }

    fn remove_nsg_rules<'a>(&'a self, nsg_id: &'a str, ids: &'a [String]) -> CloudFuture<'a, ()> {
        Box::pin(async move {
            ok(
                "RemoveNetworkSecurityGroupSecurityRules",
                self.client
                    .remove_network_security_group_security_rules(nsg_id, ids)
                    .await,
            )
        })
    }

    fn delete_nsg<'a>(&'a self, id: &'a str) -> CloudFuture<'a, ()> {
        Box::pin(async move {
            gone(
                "DeleteNetworkSecurityGroup",
                self.client.delete_network_security_group(id, None).await,
            )
        })
    }

    fn update_nsg_tags<'a>(&'a self, id: &'a str, tags: &'a Tags) -> CloudFuture<'a, ()> {
        Box::pin(async move {
            let d = UpdateNetworkSecurityGroupDetails {
                freeform_tags: Some(tags.clone()),
                ..Default::default()
            };
            ok(
                "UpdateNetworkSecurityGroup",
                self.client.update_network_security_group(id, &d).await,
            )?;
            Ok(())
        })
    }

    fn get_instance<'a>(&'a self, id: &'a str) -> CloudFuture<'a, Option<LiveInstance>> {
        Box::pin(async move {
            Ok(found("GetInstance", self.client.get_instance(id).await)?
                .map(|v| live_instance(v.value)))
        })
    }

    fn find_instance<'a>(
        &'a self,
        compartment_id: &'a str,
        pair: &'a str,
        role: &'a str,
    ) -> CloudFuture<'a, Option<LiveInstance>> {
        Box::pin(async move {
            let q = ListInstancesRequest {
                compartment_id: compartment_id.to_string(),
                ..Default::default()
            };
            let all = ok("ListInstances", self.client.list_instances(&q).await)?;
            Ok(all
                .into_iter()
                .map(live_instance)
                .find(|i| ours(&i.tags, pair, role) && !i.is_gone()))
        })
    }

    fn primary_vnic<'a>(
        &'a self,
        compartment_id: &'a str,
        instance_id: &'a str,
    ) -> CloudFuture<'a, Option<LiveVnic>> {
        Box::pin(async move {
            let atts = ok(
                "ListVnicAttachments",
                self.client
                    .list_vnic_attachments(compartment_id, Some(instance_id))
                    .await,
            )?;
            for a in atts
                .iter()
                .filter(|a| a.lifecycle_state.as_str() == "ATTACHED")
            {
                let Some(vnic_id) = &a.vnic_id else { continue };
                if let Some(v) = found("GetVnic", self.client.get_vnic(vnic_id).await)? {
                    let v = v.value;
                    if v.is_primary.unwrap_or(a.nic_index == Some(0)) {
                        return Ok(Some(LiveVnic {
                            private_ip: v.private_ip.as_deref().and_then(|p| p.parse().ok()),
                            nsg_ids: v.nsg_ids,
                            public_ip: v.public_ip,
                            tags: v.freeform_tags,
                            id: v.id,
                        }));
                    }
                }
            }
            Ok(None)
        })
    }

    fn launch_instance<'a>(
        &'a self,
        spec: &'a InstanceSpec,
        token: &'a str,
    ) -> CloudFuture<'a, String> {
        Box::pin(async move {
            let n = &spec.node;
            let shape_config = (n.ocpus.is_some() || n.memory_in_gbs.is_some()).then(|| {
                LaunchInstanceShapeConfigDetails {
                    ocpus: n.ocpus.map(f64::from),
                    memory_in_gbs: n.memory_in_gbs.map(f64::from),
                }
            });
            let mut metadata = std::collections::BTreeMap::new();
            metadata.insert("user_data".to_string(), n.user_data.clone());
            metadata.insert(
                "ssh_authorized_keys".to_string(),
                n.ssh_authorized_keys.clone(),
            );
            let d = LaunchInstanceDetails {
                availability_domain: n.availability_domain.clone(),
                compartment_id: spec.compartment_id.clone(),
                shape: n.shape.clone(),
                shape_config,
                display_name: Some(n.name.clone()),
                source_details: InstanceSourceViaImageDetails::new(&n.image_id),
                create_vnic_details: CreateVnicDetails {
                    subnet_id: spec.subnet_id.clone(),
                    assign_public_ip: Some(n.assign_public_ip),
                    private_ip: Some(n.private_ip.to_string()),
                    nsg_ids: Some(spec.nsg_ids.clone()),
                    hostname_label: n.hostname_label.clone(),
                    display_name: None,
                    skip_source_dest_check: None,
                    freeform_tags: Some(spec.tags.clone()),
                },
                metadata,
                fault_domain: Some(n.fault_domain.clone()),
                freeform_tags: Some(spec.tags.clone()),
                defined_tags: None,
            };
            Ok(ok(
                "LaunchInstance",
                self.client.launch_instance(&d, Some(token)).await,
            )?
            .value
            .id)
        })
    }

    fn terminate_instance<'a>(&'a self, id: &'a str) -> CloudFuture<'a, ()> {
        Box::pin(async move {
            gone(
                "TerminateInstance",
                self.client.terminate_instance(id, false, None).await,
            )
        })
    }

    fn update_instance<'a>(&'a self, id: &'a str, u: &'a InstanceUpdate) -> CloudFuture<'a, ()> {
        Box::pin(async move {
            let shape_config = (u.ocpus.is_some() || u.memory_in_gbs.is_some()).then(|| {
                UpdateInstanceShapeConfigDetails {
                    ocpus: u.ocpus.map(f64::from),
                    memory_in_gbs: u.memory_in_gbs.map(f64::from),
                }
            });
            let d = UpdateInstanceDetails {
                freeform_tags: u.tags.clone(),
                shape_config,
                shape: u.shape.clone(),
                fault_domain: u.fault_domain.clone(),
                metadata: u.metadata.clone(),
                ..Default::default()
            };
            ok("UpdateInstance", self.client.update_instance(id, &d).await)?;
            Ok(())
        })
    }

    fn instance_action<'a>(&'a self, id: &'a str, action: &'a str) -> CloudFuture<'a, ()> {
        Box::pin(async move {
            ok(
                "InstanceAction",
                self.client.instance_action(id, action).await,
            )?;
            Ok(())
        })
    }

    fn update_vnic_nsgs<'a>(
        &'a self,
        vnic_id: &'a str,
        nsg_ids: &'a [String],
    ) -> CloudFuture<'a, ()> {
        Box::pin(async move {
            let d = UpdateVnicDetails {
                nsg_ids: Some(nsg_ids.to_vec()),
                ..Default::default()
            };
            ok("UpdateVnic", self.client.update_vnic(vnic_id, &d).await)?;
            Ok(())
        })
    }

    fn assign_public_ip<'a>(&'a self, vnic_id: &'a str) -> CloudFuture<'a, ()> {
        Box::pin(async move {
            let q = ListPrivateIpsRequest {
                vnic_id: Some(vnic_id.to_string()),
                ..Default::default()
            };
            let ips = ok("ListPrivateIps", self.client.list_private_ips(&q).await)?;
            let primary = ips
                .into_iter()
                .find(|p| p.is_primary == Some(true))
                .ok_or_else(|| {
                    CloudError::other(
                        "CreatePublicIp",
                        format!("vnic {vnic_id} has no primary private ip"),
                    )
                })?;
            let d = CreatePublicIpDetails {
                compartment_id: primary.compartment_id.clone(),
                lifetime: "EPHEMERAL".into(),
                private_ip_id: Some(primary.id),
                display_name: None,
                freeform_tags: None,
            };
            // No retry token: a VNIC's primary private IP takes one ephemeral public IP, so a
            // repeated create is refused rather than duplicated.
            ok(
                "CreatePublicIp",
                self.client.create_public_ip(&d, None).await,
            )?;
            Ok(())
        })
    }

    fn unassign_public_ip<'a>(&'a self, address: &'a str) -> CloudFuture<'a, ()> {
        Box::pin(async move {
            let Some(p) = found(
                "GetPublicIpByIpAddress",
                self.client.get_public_ip_by_ip_address(address).await,
            )?
            else {
                return Ok(());
            };
            if p.lifetime.as_deref() == Some("RESERVED") {
                return Err(CloudError::other(
                    "DeletePublicIp",
                    format!(
                        "the public ip {address} is a reserved one, which vipsetup leaves alone; \
                         unassign it in the console or set `assign_public_ip: true`"
                    ),
                ));
            }
            gone("DeletePublicIp", self.client.delete_public_ip(&p.id).await)
        })
    }

    fn get_dynamic_group<'a>(&'a self, id: &'a str) -> CloudFuture<'a, Option<LiveDynamicGroup>> {
        Box::pin(async move {
            Ok(
                found("GetDynamicGroup", self.client.get_dynamic_group(id).await)?
                    .map(|g| live_dg(g.value)),
            )
        })
    }

    fn find_dynamic_group<'a>(
        &'a self,
        tenancy_id: &'a str,
        name: &'a str,
    ) -> CloudFuture<'a, Option<LiveDynamicGroup>> {
        Box::pin(async move {
            let all = ok(
                "ListDynamicGroups",
                self.client
                    .list_dynamic_groups(tenancy_id, Some(name))
                    .await,
            )?;
            Ok(all.into_iter().find(|g| g.name == name).map(live_dg))
        })
    }

    fn create_dynamic_group<'a>(
        &'a self,
        s: &'a DynamicGroupSpec,
        token: &'a str,
    ) -> CloudFuture<'a, String> {
        Box::pin(async move {
            let d = CreateDynamicGroupDetails {
                compartment_id: s.tenancy_id.clone(),
                name: s.name.clone(),
                matching_rule: s.matching_rule.clone(),
                description: s.description.clone(),
                freeform_tags: Some(s.tags.clone()),
                defined_tags: None,
            };
            Ok(ok(
                "CreateDynamicGroup",
                self.client.create_dynamic_group(&d, Some(token)).await,
            )?
            .value
            .id)
        })
    }

    fn update_dynamic_group<'a>(
        &'a self,
        id: &'a str,
        s: &'a DynamicGroupSpec,
    ) -> CloudFuture<'a, ()> {
        Box::pin(async move {
            let d = UpdateDynamicGroupDetails {
                description: Some(s.description.clone()),
                matching_rule: Some(s.matching_rule.clone()),
                freeform_tags: Some(s.tags.clone()),
                defined_tags: None,
            };
            ok(
                "UpdateDynamicGroup",
                self.client.update_dynamic_group(id, &d, None).await,
            )?;
            Ok(())
        })
    }

    fn delete_dynamic_group<'a>(&'a self, id: &'a str) -> CloudFuture<'a, ()> {
        Box::pin(async move {
            gone(
                "DeleteDynamicGroup",
                self.client.delete_dynamic_group(id, None).await,
            )
        })
    }

    fn get_policy<'a>(&'a self, id: &'a str) -> CloudFuture<'a, Option<LivePolicy>> {
        Box::pin(async move {
            Ok(found("GetPolicy", self.client.get_policy(id).await)?.map(|p| live_policy(p.value)))
        })
    }

    fn find_policy<'a>(
        &'a self,
        compartment_id: &'a str,
        name: &'a str,
    ) -> CloudFuture<'a, Option<LivePolicy>> {
        Box::pin(async move {
            let all = ok(
                "ListPolicies",
                self.client.list_policies(compartment_id, Some(name)).await,
            )?;
            Ok(all.into_iter().find(|p| p.name == name).map(live_policy))
        })
    }

    fn create_policy<'a>(&'a self, s: &'a PolicySpec, token: &'a str) -> CloudFuture<'a, String> {
        Box::pin(async move {
            let d = CreatePolicyDetails {
                compartment_id: s.compartment_id.clone(),
                name: s.name.clone(),
                statements: s.statements.clone(),
                description: s.description.clone(),
                version_date: None,
                freeform_tags: Some(s.tags.clone()),
                defined_tags: None,
            };
            Ok(ok(
                "CreatePolicy",
                self.client.create_policy(&d, Some(token)).await,
            )?
            .value
            .id)
        })
    }

    fn update_policy<'a>(&'a self, id: &'a str, s: &'a PolicySpec) -> CloudFuture<'a, ()> {
        Box::pin(async move {
            let d = UpdatePolicyDetails {
                description: Some(s.description.clone()),
                statements: Some(s.statements.clone()),
                version_date: None,
                freeform_tags: Some(s.tags.clone()),
                defined_tags: None,
            };
            ok(
                "UpdatePolicy",
                self.client.update_policy(id, &d, None).await,
            )?;
            Ok(())
        })
    }

    fn delete_policy<'a>(&'a self, id: &'a str) -> CloudFuture<'a, ()> {
        Box::pin(async move { gone("DeletePolicy", self.client.delete_policy(id, None).await) })
    }

    fn get_private_ip<'a>(&'a self, id: &'a str) -> CloudFuture<'a, Option<LivePrivateIp>> {
        Box::pin(async move {
            Ok(found("GetPrivateIp", self.client.get_private_ip(id).await)?
                .and_then(|p| live_ip(p.value)))
        })
    }

    fn find_private_ip<'a>(
        &'a self,
        subnet_id: &'a str,
        ip: Ipv4Addr,
    ) -> CloudFuture<'a, Option<LivePrivateIp>> {
        Box::pin(async move {
            let q = ListPrivateIpsRequest {
                ip_address: Some(ip.to_string()),
                subnet_id: Some(subnet_id.to_string()),
                vnic_id: None,
            };
            let all = ok("ListPrivateIps", self.client.list_private_ips(&q).await)?;
            Ok(all
                .into_iter()
                .filter_map(live_ip)
                .find(|p| p.ip_address == ip))
        })
    }

    fn create_private_ip<'a>(
        &'a self,
        s: &'a PrivateIpSpec,
        token: &'a str,
    ) -> CloudFuture<'a, String> {
        Box::pin(async move {
            let d = CreatePrivateIpDetails {
                vnic_id: Some(s.vnic_id.clone()),
                ip_address: Some(s.ip_address.to_string()),
                display_name: Some(s.display_name.clone()),
                hostname_label: None,
                freeform_tags: Some(s.tags.clone()),
                defined_tags: None,
            };
            Ok(ok(
                "CreatePrivateIp",
                self.client.create_private_ip(&d, Some(token)).await,
            )?
            .value
            .id)
        })
    }

    fn move_private_ip<'a>(&'a self, id: &'a str, vnic_id: &'a str) -> CloudFuture<'a, ()> {
        Box::pin(self.update_private_ip(
            id,
            UpdatePrivateIpDetails {
                vnic_id: Some(vnic_id.to_string()),
                ..Default::default()
            },
        ))
    }

    fn update_private_ip_tags<'a>(&'a self, id: &'a str, tags: &'a Tags) -> CloudFuture<'a, ()> {
        Box::pin(self.update_private_ip(
            id,
            UpdatePrivateIpDetails {
                freeform_tags: Some(tags.clone()),
                ..Default::default()
            },
        ))
    }

    fn delete_private_ip<'a>(&'a self, id: &'a str) -> CloudFuture<'a, ()> {
        Box::pin(async move {
            gone(
                "DeletePrivateIp",
                self.client.delete_private_ip(id, None).await,
            )
        })
    }

    fn find_ipv6<'a>(
        &'a self,
        subnet_id: &'a str,
        ip: Ipv6Addr,
    ) -> CloudFuture<'a, Option<LiveAddress>> {
        Box::pin(async move {
            let q = ListIpv6sRequest {
                ip_address: Some(ip.to_string()),
                subnet_id: Some(subnet_id.to_string()),
                vnic_id: None,
            };
            let all = ok("ListIpv6s", self.client.list_ipv6s(&q).await)?;
            Ok(all.into_iter().find_map(|v| {
                let address: Ipv6Addr = v.ip_address.parse().ok()?;
                (address == ip).then(|| LiveAddress {
                    id: v.id,
                    address: address.into(),
                    vnic_id: v.vnic_id,
                    is_primary: false,
                    tags: v.freeform_tags,
                })
            }))
        })
    }

    fn create_ipv6<'a>(&'a self, s: &'a Ipv6Spec, token: &'a str) -> CloudFuture<'a, String> {
        Box::pin(async move {
            let d = CreateIpv6Details {
                vnic_id: Some(s.vnic_id.clone()),
                ip_address: Some(s.ip_address.to_string()),
                display_name: Some(s.display_name.clone()),
                freeform_tags: Some(s.tags.clone()),
            };
            Ok(
                ok("CreateIpv6", self.client.create_ipv6(&d, Some(token)).await)?
                    .value
                    .id,
            )
        })
    }

    fn update_ipv6<'a>(
        &'a self,
        id: &'a str,
        vnic_id: Option<&'a str>,
        tags: Option<&'a Tags>,
    ) -> CloudFuture<'a, ()> {
        Box::pin(async move {
            let d = UpdateIpv6Details {
                vnic_id: vnic_id.map(str::to_string),
                freeform_tags: tags.cloned(),
            };
            ok("UpdateIpv6", self.client.update_ipv6(id, &d).await)?;
            Ok(())
        })
    }

    fn delete_ipv6<'a>(&'a self, id: &'a str) -> CloudFuture<'a, ()> {
        Box::pin(async move { gone("DeleteIpv6", self.client.delete_ipv6(id).await) })
    }

    fn topic_compartment<'a>(&'a self, topic_id: &'a str) -> CloudFuture<'a, Option<String>> {
        Box::pin(async move {
            let t = found("GetTopic", self.client.get_topic(topic_id).await)?;
            Ok(t.map(|t| t.value.compartment_id))
        })
    }

    fn get_public_ip<'a>(&'a self, id: &'a str) -> CloudFuture<'a, Option<LivePublicIp>> {
        Box::pin(async move {
            Ok(found("GetPublicIp", self.client.get_public_ip(id).await)?.map(live_public_ip))
        })
    }

    fn public_ip_of<'a>(&'a self, private_ip_id: &'a str) -> CloudFuture<'a, Option<LivePublicIp>> {
        Box::pin(async move {
            Ok(found(
                "GetPublicIpByPrivateIpId",
                self.client
                    .get_public_ip_by_private_ip_id(private_ip_id)
                    .await,
            )?
            .map(live_public_ip))
        })
    }

    fn create_reserved_public_ip<'a>(
        &'a self,
        s: &'a ReservedIpSpec,
        token: &'a str,
    ) -> CloudFuture<'a, String> {
        Box::pin(async move {
            let d = CreatePublicIpDetails {
                compartment_id: s.compartment_id.clone(),
                lifetime: "RESERVED".into(),
                private_ip_id: Some(s.private_ip_id.clone()),
                display_name: Some(s.display_name.clone()),
                freeform_tags: Some(s.tags.clone()),
            };
            Ok(ok(
                "CreatePublicIp",
                self.client.create_public_ip(&d, Some(token)).await,
            )?
            .id)
        })
    }

    fn set_public_ip_target<'a>(
        &'a self,
        id: &'a str,
        private_ip_id: &'a str,
    ) -> CloudFuture<'a, ()> {
        Box::pin(async move {
            let d = UpdatePublicIpDetails {
                private_ip_id: Some(private_ip_id.to_string()),
            };
            ok("UpdatePublicIp", self.client.update_public_ip(id, &d).await)?;
            Ok(())
        })
    }

    fn delete_public_ip<'a>(&'a self, id: &'a str) -> CloudFuture<'a, ()> {
        Box::pin(async move { gone("DeletePublicIp", self.client.delete_public_ip(id).await) })
    }
}
