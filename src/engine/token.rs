//! `opc-retry-token`s that survive a crash: derived from the pair, the resource, its generation
//! and the state's nonce, so a killed apply run again re-sends the same token and OCI replays
//! the first result instead of making a second copy.

use super::model::Resource;
use super::state::State;

/// 48 lowercase hex characters (OCI accepts up to 64).
pub fn retry_token(pair: &str, resource: Resource, generation: u32, nonce: &str) -> String {
    keyed_token(pair, resource.key(), generation, nonce)
}

fn keyed_token(pair: &str, key: &str, generation: u32, nonce: &str) -> String {
    let input = format!("vipsetup/1\0{pair}\0{key}\0{generation}\0{nonce}");
    let digest = ring::digest::digest(&ring::digest::SHA256, input.as_bytes());
    digest.as_ref()[..24]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The token for the next create of the extra VIP at `address` (its own generation), as the
/// state stands.
pub fn address_token(state: &State, address: &str) -> String {
    let generation = state.addresses.get(address).map_or(0, |x| x.generation);
    keyed_token(
        &state.pair,
        &format!("vip {address}"),
        generation,
        &state.nonce,
    )
}

/// The token for the next CreatePublicIp of the pair's reserved public IP.
pub fn public_ip_token(state: &State) -> String {
    let generation = state.public_ip.as_ref().map_or(0, |x| x.generation);
    keyed_token(&state.pair, "public-ip", generation, &state.nonce)
}

/// The token for `resource`'s next create, as the state stands.
pub fn token_for(state: &State, resource: Resource) -> String {
    retry_token(
        &state.pair,
        resource,
        state.generation(resource),
        &state.nonce,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_for_the_same_inputs_and_distinct_otherwise() {
        let t = retry_token("p", Resource::Node1, 0, "n");
        assert_eq!(t, retry_token("p", Resource::Node1, 0, "n"));
        assert_eq!(t.len(), 48);
        assert!(t.chars().all(|c| c.is_ascii_hexdigit()));
        let others = [
            retry_token("q", Resource::Node1, 0, "n"),
            retry_token("p", Resource::Node2, 0, "n"),
            retry_token("p", Resource::Node1, 1, "n"),
            retry_token("p", Resource::Node1, 0, "m"),
        ];
        assert!(others.iter().all(|o| o != &t));
    }

    #[test]
    fn follows_the_state_generation() {
        let mut s = State::new("p");
        let first = token_for(&s, Resource::Vip);
        s.entry(Resource::Vip).id = Some("x".into());
        assert_eq!(token_for(&s, Resource::Vip), first);
        s.retire(Resource::Vip);
        assert_ne!(token_for(&s, Resource::Vip), first);
    }
}
