//! Wire framing: `len: u32` big-endian, then `len` bytes of postcard.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt};

use super::NodeId;

/// The largest frame payload accepted or sent, in bytes (16 MiB).
///
/// A longer length prefix is a protocol error that closes the connection:
/// it is far above any real consensus message and most likely garbage, and
/// trusting it would let one bad peer make us allocate 4 GiB.
pub const MAX_FRAME_BYTES: usize = 16 * 1024 * 1024;

/// Size of the length prefix.
const LEN_BYTES: usize = 4;

/// The dialer's first frame on every connection.
///
/// There is no reply: the acceptor either starts reading messages or closes
/// the connection, which the dialer notices as end-of-stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Hello {
    /// Must equal the acceptor's cluster id, so that two clusters sharing a
    /// host (tests, a stale process) never mix their messages.
    pub(super) cluster_id: u64,
    /// The dialer's node id; must be one of the acceptor's configured peers.
    pub(super) from: NodeId,
}

/// Why a frame could not be read, written or decoded.
#[derive(Debug, thiserror::Error)]
pub(super) enum FrameError {
    /// The length prefix (or an outgoing payload) is above the cap.
    #[error("frame of {len} bytes exceeds the {max}-byte cap")]
    TooLarge {
        /// The offending length.
        len: u64,
        /// [`MAX_FRAME_BYTES`].
        max: usize,
    },
    /// The socket failed, or closed in the middle of a frame.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// The payload is not valid postcard for the expected type.
    #[error("postcard: {0}")]
    Codec(#[from] postcard::Error),
    /// The payload decoded but did not use every byte of the frame, a sign
    /// that both ends disagree on the message type.
    #[error("{extra} bytes left over after decoding the frame")]
    TrailingBytes {
        /// How many bytes were left.
        extra: usize,
    },
}

/// Appends one frame holding `value` to `out`.
///
/// On error `out` is left exactly as it was, so the caller can keep the
/// frames already in a batch.
pub(super) fn encode<T: Serialize>(value: &T, out: &mut Vec<u8>) -> Result<(), FrameError> {
    let start = out.len();
    // Reserve the prefix now and patch it afterwards: the payload length is
    // only known once postcard is done, and this avoids a second buffer.
    out.extend_from_slice(&[0; LEN_BYTES]);
    let payload_len = match postcard::to_io(value, &mut *out) {
        Ok(_) => out.len() - start - LEN_BYTES,
        Err(e) => {
            out.truncate(start);
            return Err(e.into());
        }
    };
    let len = match u32::try_from(payload_len) {
        Ok(len) if payload_len <= MAX_FRAME_BYTES => len,
        _ => {
            out.truncate(start);
            return Err(FrameError::TooLarge {
                len: payload_len as u64,
                max: MAX_FRAME_BYTES,
            });
        }
    };
    out[start..start + LEN_BYTES].copy_from_slice(&len.to_be_bytes());
    Ok(())
}

/// Decodes a whole frame payload as a `T`.
pub(super) fn decode<T: DeserializeOwned>(payload: &[u8]) -> Result<T, FrameError> {
    let (value, rest) = postcard::take_from_bytes(payload)?;
    if rest.is_empty() {
        Ok(value)
    } else {
        Err(FrameError::TrailingBytes { extra: rest.len() })
    }
}

/// Reads the next length prefix; `None` on a clean end of stream (the peer
/// closed between frames).
///
/// Not cancel-safe: callers that race it against shutdown drop the
/// connection when it loses.
pub(super) async fn read_len<R: AsyncRead + Unpin>(
    reader: &mut R,
) -> Result<Option<usize>, FrameError> {
    let mut prefix = [0u8; LEN_BYTES];
    let mut filled = 0;
    while filled < LEN_BYTES {
        let n = reader.read(&mut prefix[filled..]).await?;
        if n == 0 {
            if filled == 0 {
                return Ok(None);
            }
            return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof).into());
        }
        filled += n;
    }
    let len = u32::from_be_bytes(prefix);
    if len as usize > MAX_FRAME_BYTES {
        return Err(FrameError::TooLarge {
            len: u64::from(len),
            max: MAX_FRAME_BYTES,
        });
    }
    Ok(Some(len as usize))
}

/// Reads a payload of `len` bytes (already checked against the cap) into
/// `buf`, replacing its contents.
pub(super) async fn read_payload<R: AsyncRead + Unpin>(
    reader: &mut R,
    len: usize,
    buf: &mut Vec<u8>,
) -> Result<(), FrameError> {
    debug_assert!(len <= MAX_FRAME_BYTES, "caller must check the cap");
    buf.clear();
    buf.resize(len, 0);
    reader.read_exact(buf).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn read_one<T: DeserializeOwned>(bytes: &[u8]) -> Result<Option<T>, FrameError> {
        let mut reader = bytes;
        let mut buf = Vec::new();
        let Some(len) = read_len(&mut reader).await? else {
            return Ok(None);
        };
        read_payload(&mut reader, len, &mut buf).await?;
        decode(&buf).map(Some)
    }

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a current-thread runtime")
            .block_on(f)
    }

    #[test]
    fn frames_round_trip_back_to_back() {
        let hello = Hello {
            cluster_id: 7,
            from: u64::MAX,
        };
        let mut wire = Vec::new();
        encode(&hello, &mut wire).expect("encode hello");
        encode(&"second".to_string(), &mut wire).expect("encode string");
        let len = u32::from_be_bytes(wire[..4].try_into().expect("4 bytes")) as usize;
        let (first, second) = wire.split_at(LEN_BYTES + len);
        assert_eq!(block_on(read_one::<Hello>(first)).expect("ok"), Some(hello));
        assert_eq!(
            block_on(read_one::<String>(second)).expect("ok"),
            Some("second".to_string())
        );
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        let cap = MAX_FRAME_BYTES as u32;
        let cases: &[(&str, Vec<u8>, bool)] = &[
            // (what, bytes, clean end of stream expected)
            ("empty stream", vec![], true),
            ("half a prefix", vec![0, 0], false),
            (
                "length above the cap",
                (cap + 1).to_be_bytes().to_vec(),
                false,
            ),
            ("largest u32 length", u32::MAX.to_be_bytes().to_vec(), false),
            ("payload cut short", vec![0, 0, 0, 9, 1, 2], false),
            ("not a hello", vec![0, 0, 0, 1, 0xff], false),
            ("trailing bytes", vec![0, 0, 0, 3, 1, 2, 3], false),
        ];
        for (what, bytes, clean_eof) in cases {
            match block_on(read_one::<Hello>(bytes)) {
                Ok(None) => assert!(clean_eof, "{what}: unexpected clean end"),
                Ok(Some(h)) => panic!("{what}: decoded {h:?}"),
                Err(e) => assert!(!clean_eof, "{what}: unexpected error {e}"),
            }
        }
    }

    #[test]
    fn oversized_payload_is_refused_and_leaves_the_batch_intact() {
        let mut out = Vec::new();
        encode(&1u8, &mut out).expect("small frame");
        let before = out.clone();
        let huge = vec![0u8; MAX_FRAME_BYTES + 1];
        let err = encode(&huge, &mut out).expect_err("above the cap");
        assert!(matches!(err, FrameError::TooLarge { .. }), "{err}");
        assert_eq!(out, before);
    }
}
