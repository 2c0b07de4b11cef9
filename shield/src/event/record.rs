//! The fixed-size, allocation-free event record that the interceptors write.

use crate::policy::PolicyKind;

/// Bytes in an encoded record.
pub const RECORD_BYTES: usize = 768;
/// 64-bit words in an encoded record.
pub const RECORD_WORDS: usize = RECORD_BYTES / 8;
/// Capacity of the path/host/executable field.
pub const TEXT_MAX: usize = 256;
/// Capacity of the argv field (NUL-separated arguments).
pub const ARGV_MAX: usize = 256;
/// Capacity of the executable field (the process that made the call, for children).
pub const EXE_MAX: usize = 128;
/// Capacity of the request-id field.
pub const REQID_MAX: usize = 64;

/// What kind of operation a record describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum RecordKind {
    /// A file-system path.
    Path = 0,
    /// A network destination.
    Net = 1,
    /// Running a program.
    Exec = 2,
    /// Creating a process.
    Fork = 3,
    /// A call that bypasses or redirects what a policy decides on: raw and packet sockets,
    /// routing options, unknown address families, DNS queries for names not allowed, io_uring,
    /// open_by_handle_at.
    Bypass = 4,
}

/// One event as recorded in signal context: plain bytes, no heap.
#[derive(Clone, Copy)]
pub struct Record {
    /// Policy ([`PolicyKind`] as u8).
    pub policy: u8,
    /// 1 = blocked, 0 = alerted.
    pub blocked: bool,
    /// [`RecordKind`].
    pub kind: RecordKind,
    /// For paths: 0 read, 1 write, 2 read-write, 3 metadata.
    pub access: u8,
    /// The syscall number.
    pub syscall: i32,
    /// The process (or thread group) that made the call.
    pub pid: u32,
    /// Wall clock, nanoseconds since the Unix epoch.
    pub timestamp_ns: u64,
    /// IP address (IPv4 in the first 4 bytes when `family == 4`).
    pub ip: [u8; 16],
    /// Port.
    pub port: u16,
    /// 4, 6 or 0.
    pub family: u8,
    /// Path, host name (for `Net`) or executable (for `Exec`).
    pub text: [u8; TEXT_MAX],
    /// Used length of `text`.
    pub text_len: u16,
    /// NUL-separated argv (for `Exec`), truncated.
    pub argv: [u8; ARGV_MAX],
    /// Used length of `argv`.
    pub argv_len: u16,
    /// The request id the event is attributed to, or empty for `unknown`.
    pub request_id: [u8; REQID_MAX],
    /// Used length of `request_id`.
    pub request_id_len: u8,
    /// Set when `text` or `argv` was truncated.
    pub truncated: bool,
    /// The executable of the calling process when it is not this process (a child).
    pub exe: [u8; EXE_MAX],
    /// Set when this occurrence was written to stdout at once (the first of its violation;
    /// see `event::durable`).
    pub early: bool,
    /// Used length of `exe`.
    pub exe_len: u8,
}

impl Record {
    /// An empty record.
    pub const EMPTY: Record = Record {
        policy: 0,
        blocked: false,
        kind: RecordKind::Path,
        access: 0,
        syscall: -1,
        pid: 0,
        timestamp_ns: 0,
        ip: [0; 16],
        port: 0,
        family: 0,
        text: [0; TEXT_MAX],
        text_len: 0,
        argv: [0; ARGV_MAX],
        argv_len: 0,
        request_id: [0; REQID_MAX],
        request_id_len: 0,
        truncated: false,
        exe: [0; EXE_MAX],
        exe_len: 0,
        early: false,
    };

    /// A new record for `policy`.
    pub fn new(policy: PolicyKind, blocked: bool, kind: RecordKind, syscall: i64) -> Self {
        Record {
            policy: policy.to_u8(),
            blocked,
            kind,
            syscall: syscall as i32,
            ..Record::EMPTY
        }
    }

    /// Copy `s` into `text`, truncating.
    pub fn set_text(&mut self, s: &[u8]) {
        let n = s.len().min(TEXT_MAX);
        self.text[..n].copy_from_slice(&s[..n]);
        self.text_len = n as u16;
        self.truncated |= n < s.len();
    }

    /// Append one argument to `argv`, truncating.
    pub fn push_arg(&mut self, arg: &[u8]) {
        let at = self.argv_len as usize;
        if at > 0 {
            if at >= ARGV_MAX {
                self.truncated = true;
                return;
            }
            self.argv[at] = 0;
            self.argv_len += 1;
        }
        let at = self.argv_len as usize;
        let n = arg.len().min(ARGV_MAX - at);
        self.argv[at..at + n].copy_from_slice(&arg[..n]);
        self.argv_len += n as u16;
        self.truncated |= n < arg.len();
    }

    /// Set the destination.
    pub fn set_ip(&mut self, ip: std::net::IpAddr, port: u16) {
        match ip {
            std::net::IpAddr::V4(v4) => {
                self.ip[..4].copy_from_slice(&v4.octets());
                self.family = 4;
            }
            std::net::IpAddr::V6(v6) => {
                self.ip = v6.octets();
                self.family = 6;
            }
        }
        self.port = port;
    }

    /// Encode into words (little-endian byte layout).
    pub fn encode(&self, out: &mut [u64; RECORD_WORDS]) {
        let mut b = [0u8; RECORD_BYTES];
        b[0] = self.policy;
        b[1] = self.blocked as u8;
        b[2] = self.kind as u8;
        b[3] = self.access;
        b[4..8].copy_from_slice(&self.syscall.to_le_bytes());
        b[8..12].copy_from_slice(&self.pid.to_le_bytes());
        b[12..14].copy_from_slice(&self.text_len.to_le_bytes());
        b[14..16].copy_from_slice(&self.argv_len.to_le_bytes());
        b[16..24].copy_from_slice(&self.timestamp_ns.to_le_bytes());
        b[24..40].copy_from_slice(&self.ip);
        b[40..42].copy_from_slice(&self.port.to_le_bytes());
        b[42] = self.family;
        b[43] = self.request_id_len;
        b[44] = self.truncated as u8;
        b[48..112].copy_from_slice(&self.request_id);
        b[112..368].copy_from_slice(&self.text);
        b[368..624].copy_from_slice(&self.argv);
        b[45] = self.exe_len;
        b[46] = self.early as u8;
        b[624..752].copy_from_slice(&self.exe);
        for (i, w) in out.iter_mut().enumerate() {
            let mut c = [0u8; 8];
            c.copy_from_slice(&b[i * 8..i * 8 + 8]);
            *w = u64::from_le_bytes(c);
        }
    }

    /// Decode from words.
    pub fn decode(words: &[u64; RECORD_WORDS]) -> Self {
        let mut b = [0u8; RECORD_BYTES];
        for (i, w) in words.iter().enumerate() {
            b[i * 8..i * 8 + 8].copy_from_slice(&w.to_le_bytes());
        }
        let u16at = |i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
        let mut r = Record::EMPTY;
        r.policy = b[0];
        r.blocked = b[1] != 0;
        r.kind = match b[2] {
            1 => RecordKind::Net,
            2 => RecordKind::Exec,
            3 => RecordKind::Fork,
            4 => RecordKind::Bypass,
            _ => RecordKind::Path,
        };
        r.access = b[3];
        r.syscall = i32::from_le_bytes([b[4], b[5], b[6], b[7]]);
        r.pid = u32::from_le_bytes([b[8], b[9], b[10], b[11]]);
        r.text_len = u16at(12).min(TEXT_MAX as u16);
        r.argv_len = u16at(14).min(ARGV_MAX as u16);
        let mut ts = [0u8; 8];
        ts.copy_from_slice(&b[16..24]);
        r.timestamp_ns = u64::from_le_bytes(ts);
        r.ip.copy_from_slice(&b[24..40]);
        r.port = u16at(40);
        r.family = b[42];
        r.request_id_len = b[43].min(REQID_MAX as u8);
        r.truncated = b[44] != 0;
        r.request_id.copy_from_slice(&b[48..112]);
        r.text.copy_from_slice(&b[112..368]);
        r.argv.copy_from_slice(&b[368..624]);
        r.exe_len = b[45].min(EXE_MAX as u8);
        r.early = b[46] != 0;
        r.exe.copy_from_slice(&b[624..752]);
        r
    }
}
