//! What instances tell each other through the broker: one text message per hub call.
//!
//! A line-based format rather than JSON: the frame is carried as it is, after the header lines,
//! so it is neither escaped on publish nor parsed on receipt; each instance wraps the payload
//! in one shared [`Frame`] for all its recipients. Every message names the instance that sent
//! it (`origin`), which skips its own messages: it already acted on them locally.
//!
//! ```text
//! deliver\n<origin>\n<probe id>,<probe id>,...\n<frame>
//! supersede\n<origin>\n<probe id>\n<session>
//! kick\n<origin>\n<probe id>\n<close code> <reason>
//! ```

use super::Frame;
use crate::domain::ProbeId;
use crate::store::SessionId;
use probe_protocol::CloseReason;

/// One message between instances.
#[derive(Debug, Clone, PartialEq)]
pub enum Envelope {
    /// Offer `frame` to whichever of `probes` are linked to the receiving instance.
    Deliver { probes: Vec<ProbeId>, frame: Frame },
    /// `probe` linked again with `session`: an instance holding another link of it checks
    /// which is newer and closes its own if it is the older one.
    Supersede { probe: ProbeId, session: SessionId },
    /// Close whatever link of `probe` the receiving instance holds, with `reason` (its tokens
    /// were revoked, or it was removed).
    Kick { probe: ProbeId, reason: CloseReason },
}

const DELIVER: &str = "deliver";
const SUPERSEDE: &str = "supersede";
const KICK: &str = "kick";

impl Envelope {
    /// The message as published, tagged with the sending instance.
    pub fn encode(&self, origin: &str) -> Vec<u8> {
        match self {
            Envelope::Deliver { probes, frame } => {
                let ids: Vec<String> = probes.iter().map(ToString::to_string).collect();
                format!("{DELIVER}\n{origin}\n{}\n{}", ids.join(","), frame.as_str())
            }
            Envelope::Supersede { probe, session } => {
                format!("{SUPERSEDE}\n{origin}\n{probe}\n{}", session.0)
            }
            Envelope::Kick { probe, reason } => {
                format!(
                    "{KICK}\n{origin}\n{probe}\n{} {}",
                    reason.code, reason.reason
                )
            }
        }
        .into_bytes()
    }

    /// The sending instance and its message; `None` for anything malformed (another version
    /// of the server, or not ours at all), which the receiver ignores.
    pub fn decode(payload: &[u8]) -> Option<(&str, Envelope)> {
        let text = std::str::from_utf8(payload).ok()?;
        let mut parts = text.splitn(4, '\n');
        let (kind, origin, subject, rest) =
            (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        let envelope = match kind {
            DELIVER => Envelope::Deliver {
                probes: subject
                    .split(',')
                    .map(str::parse)
                    .collect::<Result<_, _>>()
                    .ok()?,
                frame: Frame::from(rest.to_string()),
            },
            SUPERSEDE => Envelope::Supersede {
                probe: subject.parse().ok()?,
                session: SessionId(rest.to_string()),
            },
            KICK => {
                let (code, reason) = rest.split_once(' ')?;
                Envelope::Kick {
                    probe: subject.parse().ok()?,
                    reason: CloseReason {
                        code: code.parse().ok()?,
                        reason: reason.to_string().into(),
                    },
                }
            }
            _ => return None,
        };
        Some((origin, envelope))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kick_round_trips_with_its_code_and_reason() {
        let sent = Envelope::Kick {
            probe: ProbeId::generate(),
            reason: crate::hub::kick::REVOKED,
        };
        let payload = sent.encode("a");
        assert_eq!(Envelope::decode(&payload), Some(("a", sent)));
    }

    #[test]
    fn a_deliver_round_trips_with_its_frame_untouched() {
        let probes = vec![ProbeId::generate(), ProbeId::generate()];
        let frame = Frame::from("{\"type\":\"operation\",\"note\":\"a\\nb\"}\n".to_string());
        let sent = Envelope::Deliver {
            probes: probes.clone(),
            frame,
        };
        let bytes = sent.encode("instance-1");
        let (origin, got) = Envelope::decode(&bytes).expect("decodes");
        assert_eq!(origin, "instance-1");
        assert_eq!(got, sent);
    }

    #[test]
    fn a_supersede_round_trips() {
        let sent = Envelope::Supersede {
            probe: ProbeId::generate(),
            session: SessionId("b-65f0".into()),
        };
        let bytes = sent.encode("o");
        let (origin, got) = Envelope::decode(&bytes).expect("decodes");
        assert_eq!((origin, got), ("o", sent));
    }

    #[test]
    fn anything_else_is_ignored() {
        for junk in [
            &b"hello"[..],
            b"deliver\no\nnot-an-id\n{}",
            b"supersede\no\nnot-an-id\ns",
            b"unknown\no\nx\ny",
            b"\xff\xfe",
        ] {
            assert_eq!(Envelope::decode(junk), None, "{junk:?}");
        }
    }
}
