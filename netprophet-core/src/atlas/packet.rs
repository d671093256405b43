//! What the parser's two paths (the fast field scanner and serde) both
//! produce: the outcome of one packet and the fields of one result that
//! matter. Kept apart so the scanner depends on nothing above it.

/// One packet of a ping result, as far as latency is concerned.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Packet {
    /// A reply with its round-trip time in milliseconds.
    Reply(f64),
    /// No reply (`{"x": "*"}`): sent but not received.
    Timeout,
    /// The probe reported an error for this packet (`{"error": ...}`).
    Error,
    /// A duplicate reply (`"dup"` on the packet); not a new measurement.
    Duplicate,
    /// A reply that arrived after the probe moved on (`"late"`).
    Late,
}

/// What one packet entry means, from the keys it has.
pub(crate) fn packet(rtt: Option<f64>, x: bool, error: bool, dup: bool, late: bool) -> Packet {
    if error {
        Packet::Error
    } else if x && rtt.is_none() {
        Packet::Timeout
    } else if dup {
        Packet::Duplicate
    } else if late {
        Packet::Late
    } else {
        match rtt {
            Some(r) => Packet::Reply(r),
            None => Packet::Error,
        }
    }
}

/// The fields of a result that matter, however they were read.
#[derive(Default)]
pub(crate) struct Fields {
    pub not_ping: bool,
    pub prb_id: Option<f64>,
    pub timestamp: Option<f64>,
    pub msm_id: Option<f64>,
    pub af: Option<f64>,
    pub fw: Option<f64>,
    pub sent: Option<f64>,
    pub rcvd: Option<f64>,
    pub dst_v6: bool,
    pub packets: Vec<Packet>,
}
