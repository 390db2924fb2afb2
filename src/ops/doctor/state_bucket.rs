//! The state bucket check: the `state:` bucket exists and may be read.

use super::report::{ok, problem, unknown, Check};
use super::Doctor;

impl Doctor<'_> {
    pub(super) async fn check_state_bucket(&self) -> Check {
        let Some(st) = &self.bp.state else {
            return ok(
                "state_bucket",
                "state kept in a local file (no `state:` key)",
            );
        };
        let ns = match &st.namespace {
            Some(n) => n.clone(),
            None => match self.client().get_namespace().await {
                Ok(n) => n,
                Err(e) => {
                    return unknown(
                        "state_bucket",
                        format!("could not read the Object Storage namespace: {e}"),
                        "set `state.namespace` (`oci os ns get`)",
                    )
                }
            },
        };
        let object = format!("{}{}.json", st.prefix, self.spec.pair);
        match self.client().list_objects(&ns, &st.bucket, &object).await {
            Ok(_) => ok(
                "state_bucket",
                format!("bucket {} in namespace {ns} is readable", st.bucket),
            ),
            Err(e) if e.is_not_found() => problem(
                "state_bucket",
                format!(
                    "bucket {} was not found in namespace {ns} (region {}), or you may not read it",
                    st.bucket,
                    self.client().region()
                ),
                format!(
                    "create it (`oci os bucket create --name {} --compartment-id {}`) or fix \
                     `state.bucket`, and let your group `manage objects` in it",
                    st.bucket, self.spec.compartment_id
                ),
            ),
            Err(e) => unknown(
                "state_bucket",
                format!("could not read bucket {}: {e}", st.bucket),
                "run doctor again",
            ),
        }
    }
}
