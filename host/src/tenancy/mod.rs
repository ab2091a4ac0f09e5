//! Tenants, users, devices and numbers: the data model of a company's PBX,
//! and how a request is resolved to its tenant.

/// A company's PBX.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    pub id: i64,
    /// SIP domain, also the digest realm of its devices (e.g. `demo.centrale.test`).
    pub domain: String,
    pub name: String,
    /// Number of digits of an internal extension (e.g. 3 for `201`).
    pub extension_length: i64,
    /// Digits dialled before an outside number (e.g. `0`); empty when none.
    pub outside_prefix: String,
    /// Country calling code (digits, e.g. `31`): national numbers
    /// (`020...`) are read in this country.
    pub country_code: String,
}

/// A person with an extension, numbers and devices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: i64,
    pub tenant_id: i64,
    pub extension: String,
    pub display_name: String,
    pub email: String,
    /// Public numbers (DIDs) in E.164 without spaces, e.g. `+31201234567`.
    pub numbers: Vec<String>,
}

/// A SIP credential (desk phone, softphone) belonging to a user.
/// Only the digest HA1 values are stored, never the password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    pub id: i64,
    pub tenant_id: i64,
    pub user_id: i64,
    /// Digest username.
    pub username: String,
    /// hex(MD5(username:realm:password))
    pub ha1_md5: String,
    /// hex(SHA-256(username:realm:password))
    pub ha1_sha256: String,
}

/// One registered contact of a device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    pub tenant_id: i64,
    pub user_id: i64,
    pub device_id: i64,
    /// The Contact URI as the device sent it (e.g. `sip:201@192.0.2.7:5062;transport=udp`).
    pub contact: String,
    /// Where the REGISTER really came from, `udp:1.2.3.4:5060` or `tcp:...`:
    /// requests to this contact are sent there (NAT-friendly).
    pub source: String,
    pub call_id: String,
    pub cseq: i64,
    /// Unix ms when the binding expires.
    pub expires_at: i64,
    /// Unix ms of the last refresh.
    pub updated_at: i64,
}

/// One call detail record.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Cdr {
    pub id: i64,
    pub tenant_id: i64,
    pub call_id: String,
    pub caller: String,
    pub callee: String,
    /// Unix ms.
    pub started_at: i64,
    pub answered_at: Option<i64>,
    pub ended_at: i64,
    /// `answered`, `busy`, `no-answer`, `cancelled`, `not-found`, `unavailable`, `failed`, `rejected`.
    pub result: String,
    /// Final SIP status of the call (200 when answered).
    pub sip_code: i64,
}

pub mod backend;
pub mod numbers;
pub mod plugins;
pub mod resolve;
pub mod storage;
