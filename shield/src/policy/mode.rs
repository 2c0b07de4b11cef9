//! Modes and policy names.

use std::fmt;
use std::str::FromStr;

/// What a policy does when it sees a violation.
///
/// The default is [`Mode::Block`]: fnshield is a security library and fails closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Mode {
    /// Let the operation through and report nothing.
    Allow = 0,
    /// Let the operation through and report an `alert` event.
    Alert = 1,
    /// Refuse the operation with the errno the OS would give and report a `block` event.
    #[default]
    Block = 2,
}

impl Mode {
    /// The lower-case name used in configuration and events.
    pub const fn as_str(self) -> &'static str {
        match self {
            Mode::Allow => "allow",
            Mode::Alert => "alert",
            Mode::Block => "block",
        }
    }

    pub(crate) const fn from_u8(v: u8) -> Mode {
        match v {
            0 => Mode::Allow,
            1 => Mode::Alert,
            _ => Mode::Block,
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Error returned when a string is not `block`, `alert` or `allow`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownMode(pub String);

impl fmt::Display for UnknownMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown mode `{}`; expected block, alert or allow",
            self.0
        )
    }
}

impl std::error::Error for UnknownMode {}

impl FromStr for Mode {
    type Err = UnknownMode;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "block" => Ok(Mode::Block),
            "alert" => Ok(Mode::Alert),
            "allow" => Ok(Mode::Allow),
            other => Err(UnknownMode(other.to_owned())),
        }
    }
}

/// The policies fnshield enforces and reports on.
///
/// The first four are the runtime policies, named as PureSec's FunctionShield named them.
/// [`PolicyKind::InputValidation`] is the event-validation policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum PolicyKind {
    /// Outbound network connections.
    OutboundConnectivity,
    /// Reads and writes under the tmp root.
    ReadWriteTmp,
    /// Process creation and program execution.
    CreateChildProcess,
    /// Reads of the function's own code and of process secrets.
    ReadHandler,
    /// JSON Schema validation of events and responses.
    InputValidation,
    /// The shield itself (degraded enforcement, lost events).
    Shield,
}

impl PolicyKind {
    /// The four runtime policies, in configuration order.
    pub const RUNTIME: [PolicyKind; 4] = [
        PolicyKind::OutboundConnectivity,
        PolicyKind::ReadWriteTmp,
        PolicyKind::CreateChildProcess,
        PolicyKind::ReadHandler,
    ];

    /// The snake_case name used in configuration keys and events.
    pub const fn as_str(self) -> &'static str {
        match self {
            PolicyKind::OutboundConnectivity => "outbound_connectivity",
            PolicyKind::ReadWriteTmp => "read_write_tmp",
            PolicyKind::CreateChildProcess => "create_child_process",
            PolicyKind::ReadHandler => "read_handler",
            PolicyKind::InputValidation => "input_validation",
            PolicyKind::Shield => "shield",
        }
    }

    pub(crate) const fn to_u8(self) -> u8 {
        match self {
            PolicyKind::OutboundConnectivity => 0,
            PolicyKind::ReadWriteTmp => 1,
            PolicyKind::CreateChildProcess => 2,
            PolicyKind::ReadHandler => 3,
            PolicyKind::InputValidation => 4,
            PolicyKind::Shield => 5,
        }
    }

    pub(crate) const fn from_u8(v: u8) -> PolicyKind {
        match v {
            0 => PolicyKind::OutboundConnectivity,
            1 => PolicyKind::ReadWriteTmp,
            2 => PolicyKind::CreateChildProcess,
            3 => PolicyKind::ReadHandler,
            4 => PolicyKind::InputValidation,
            _ => PolicyKind::Shield,
        }
    }
}

impl fmt::Display for PolicyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
