//! OCI resource and request models with OCI's exact JSON field names (checked against the Python
//! SDK's `attribute_map`s). Unknown fields are ignored and unknown enum values parse as
//! `UnknownValue`, so a newer API does not break an older vipsetup.

pub mod core;
pub mod identity;
pub mod limits;
pub mod notifications;
pub mod placement;
pub mod routing;
pub mod security_list;
pub mod update;

pub use self::core::*;
pub use self::identity::*;
pub use self::notifications::*;
pub use self::placement::*;
pub use self::routing::*;
pub use self::security_list::*;
pub use self::update::*;

use std::collections::BTreeMap;

/// `freeformTags`.
pub type FreeformTags = BTreeMap<String, String>;
/// `definedTags`: namespace -> key -> value.
pub type DefinedTags = BTreeMap<String, BTreeMap<String, serde_json::Value>>;

/// Defines a lifecycle-state enum (SCREAMING_SNAKE_CASE on the wire) with an `UnknownValue`
/// fallback and `as_str`.
macro_rules! lifecycle_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident => $wire:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        pub enum $name {
            $(#[serde(rename = $wire)] $variant,)+
            /// A value this version of vipsetup does not know.
            #[serde(other, rename = "UNKNOWN_ENUM_VALUE")]
            UnknownValue,
        }

        impl $name {
            pub fn as_str(&self) -> &'static str {
                match self {
                    $($name::$variant => $wire,)+
                    $name::UnknownValue => "UNKNOWN_ENUM_VALUE",
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use lifecycle_enum;
