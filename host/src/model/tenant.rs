//! Who is asking: tenants, their roles, and who may see a process.

use serde::{Deserialize, Serialize};

/// What an identity may do. Each role may do everything the ones below it may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Lists, describes and executes the processes it can see; reads its own jobs.
    User,
    /// Also deploys processes, and replaces, undeploys and shares its own.
    Developer,
    /// Sees and manages every process and job, and manages tenants.
    Admin,
}

impl Role {
    /// The stored and configured name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Developer => "developer",
            Role::Admin => "admin",
        }
    }

    /// Parses [`as_str`](Self::as_str)'s names.
    pub fn parse(text: &str) -> Option<Role> {
        match text {
            "user" => Some(Role::User),
            "developer" => Some(Role::Developer),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// The tenant of requests that carry no credentials, when the operator
/// allows them.
pub const ANONYMOUS: &str = "anonymous";

/// An authenticated identity: the tenant a request acts for, and its role.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Principal {
    /// The tenant id; owner of what it creates.
    pub tenant: String,
    /// What it may do.
    pub role: Role,
}

impl Principal {
    /// The identity of requests without credentials.
    pub fn anonymous(role: Role) -> Self {
        Principal {
            tenant: ANONYMOUS.into(),
            role,
        }
    }

    /// Whether it may see and manage everything.
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// Whether it may act as the owner of something `owner` owns.
    pub fn owns(&self, owner: &str) -> bool {
        self.is_admin() || self.tenant == owner
    }
}

/// Who may see a deployed process besides its owner (and admins).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "visibility", rename_all = "lowercase")]
pub enum Visibility {
    /// Only the owner. The default of every deployment.
    Private,
    /// Everyone who can reach the server.
    Public,
    /// The owner and the tenants named.
    Shared {
        /// Tenant ids.
        tenants: Vec<String>,
    },
}

impl Visibility {
    /// Whether `who` may see (describe, execute) a process `owner` owns.
    pub fn admits(&self, owner: &str, who: &Principal) -> bool {
        who.owns(owner)
            || match self {
                Visibility::Private => false,
                Visibility::Public => true,
                Visibility::Shared { tenants } => tenants.iter().any(|t| *t == who.tenant),
            }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn visibility_admits_owner_admin_and_the_named() {
        let alice = Principal {
            tenant: "alice".into(),
            role: Role::Developer,
        };
        let bob = Principal {
            tenant: "bob".into(),
            role: Role::User,
        };
        let root = Principal {
            tenant: "ops".into(),
            role: Role::Admin,
        };
        let private = Visibility::Private;
        assert!(private.admits("alice", &alice) && private.admits("alice", &root));
        assert!(!private.admits("alice", &bob));
        let shared = Visibility::Shared {
            tenants: vec!["bob".into()],
        };
        assert!(shared.admits("alice", &bob));
        assert!(!shared.admits("alice", &Principal::anonymous(Role::User)));
        assert!(Visibility::Public.admits("alice", &Principal::anonymous(Role::User)));
        assert!(Role::Admin > Role::Developer && Role::Developer > Role::User);
    }
}
