//! The IAM text vipsetup's apply writes (mirrors `engine::iam` until that lands on main).

pub fn matching_rule(instance_ids: &[&str]) -> String {
    let conditions: Vec<String> = instance_ids
        .iter()
        .map(|id| format!("instance.id = '{id}'"))
        .collect();
    format!("ANY {{{}}}", conditions.join(", "))
}

pub fn policy_statements(
    dynamic_group: &str,
    compartment_id: &str,
    extra: &[String],
) -> Vec<String> {
    let mut statements: Vec<String> = ["private-ips", "vnics", "subnets"]
        .iter()
        .map(|r| {
            format!(
                "Allow dynamic-group {dynamic_group} to use {r} in compartment id {compartment_id}"
            )
        })
        .collect();
    statements.extend(extra.iter().cloned());
    statements
}
