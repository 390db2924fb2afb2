//! The IAM steps: the dynamic group and the policy, created or updated in the home region, with
//! the wait for IAM's eventual consistency.

use super::*;

impl Executor<'_> {
    pub(super) fn dynamic_group_spec(&self) -> Result<DynamicGroupSpec, StepError> {
        let d = self.desired();
        let ids = [self.id_of(Resource::Node1)?, self.id_of(Resource::Node2)?];
        Ok(DynamicGroupSpec {
            tenancy_id: d.tenancy_id.clone(),
            name: d.dynamic_group.name.clone(),
            description: d.dynamic_group.description.clone(),
            matching_rule: iam::matching_rule(&[&ids[0], &ids[1]]),
            tags: d.tags_for(Resource::DynamicGroup),
        })
    }

    pub(super) async fn put_dynamic_group(&self, update: bool) -> Result<(), StepError> {
        let spec = &self.dynamic_group_spec()?;
        self.put_iam(
            Resource::DynamicGroup,
            &spec.name,
            update,
            |token| async move { self.cloud.create_dynamic_group(spec, &token).await },
            |id| async move { self.cloud.update_dynamic_group(&id, spec).await },
            |id| async move {
                let g = self.cloud.get_dynamic_group(&id).await?;
                Ok(g.map(|g| g.lifecycle_state))
            },
        )
        .await
    }

    pub(super) async fn put_policy(&self, update: bool) -> Result<(), StepError> {
        let d = self.desired();
        let spec = &PolicySpec {
            compartment_id: d.policy.compartment_id.clone(),
            name: d.policy.name.clone(),
            description: d.policy.description.clone(),
            statements: d.policy.statements.clone(),
            tags: d.tags_for(Resource::Policy),
        };
        self.put_iam(
            Resource::Policy,
            &spec.name,
            update,
            |token| async move { self.cloud.create_policy(spec, &token).await },
            |id| async move { self.cloud.update_policy(&id, spec).await },
            |id| async move {
                let p = self.cloud.get_policy(&id).await?;
                Ok(p.map(|p| p.lifecycle_state))
            },
        )
        .await
    }

    /// The operation writing `r` and the statement the user's group needs for it (Oracle's IAM
    /// policy reference: DYNAMIC_GROUP_CREATE/UPDATE come with `manage dynamic-groups`, which
    /// exist only in the tenancy; POLICY_CREATE/UPDATE with `manage policies` where the policy is
    /// attached).
    pub(super) fn iam_permission(&self, r: Resource, update: bool) -> (&'static str, String) {
        if r == Resource::DynamicGroup {
            let op = if update {
                "UpdateDynamicGroup"
            } else {
                "CreateDynamicGroup"
            };
            return (
                op,
                "Allow group <your-group> to manage dynamic-groups in tenancy".into(),
            );
        }
        let c = &self.desired().policy.compartment_id;
        let scope = if c.starts_with("ocid1.tenancy.") {
            "tenancy".to_string()
        } else {
            format!("compartment id {c}")
        };
        let op = if update {
            "UpdatePolicy"
        } else {
            "CreatePolicy"
        };
        (
            op,
            format!("Allow group <your-group> to manage policies in {scope}"),
        )
    }

    /// Creates (recording id and name at once) or updates a dynamic group or policy through
    /// `iam_call`, then waits for it to be ACTIVE. `lifecycle` reads its state by id.
    pub(super) async fn put_iam<C, CFut, U, UFut, L, LFut>(
        &self,
        r: Resource,
        name: &str,
        update: bool,
        create: C,
        update_call: U,
        lifecycle: L,
    ) -> Result<(), StepError>
    where
        C: Fn(String) -> CFut,
        CFut: Future<Output = Result<String, CloudError>>,
        U: Fn(String) -> UFut,
        UFut: Future<Output = Result<(), CloudError>>,
        L: Fn(String) -> LFut,
        LFut: Future<Output = Result<Option<String>, CloudError>>,
    {
        let (operation, needs) = self.iam_permission(r, update);
        let id = if update {
            let id = self.id_of(r)?;
            self.progress.status(r, "updating");
            self.iam_call(r, operation, &needs, || update_call(id.clone()))
                .await?;
            id
        } else {
            self.record(|s| s.retire(r)).await?;
            self.progress.status(r, "creating");
            let token = self.read(|s| token_for(s, r));
            let id = match self
                .iam_call(r, operation, &needs, || create(token.clone()))
                .await
            {
                Err(StepError::Cloud(e)) if is_invalidated_token(&e) => {
                    self.record(|s| s.invalidate_token(r)).await?;
                    let token = self.read(|s| token_for(s, r));
                    self.iam_call(r, operation, &needs, || create(token.clone()))
                        .await?
                }
                other => other?,
            };
            self.record(|s| {
                let e = s.entry(r);
                e.id = Some(id.clone());
                e.name = Some(name.to_string());
            })
            .await?;
            id
        };
        self.poll(r, "ACTIVE", || async {
            match lifecycle(id.clone()).await? {
                Some(state) if state == "ACTIVE" => Ok(Some(())),
                Some(state) => {
                    self.progress.status(r, &state);
                    Ok(None)
                }
                None => Ok(None),
            }
        })
        .await
    }
}
