//! Secret bytes read from OpenMLS's stored records, held in a buffer that is wiped when it
//! is dropped and read without leaving copies in freed memory.

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use zeroize::Zeroizing;

/// Bytes as OpenMLS's serde writes them: `Vec<u8>` as an array, `VLBytes` and
/// `SecretVLBytes` as `{"vec": [...]}`; wiped on drop.
///
/// Deserialised by hand: an untagged enum would first buffer the bytes in serde's
/// private `Content`, which nothing wipes; here they go straight into a zeroizing
/// buffer, and a buffer that must grow is wiped before it is freed.
pub struct SerdeBytes(Zeroizing<Vec<u8>>);

impl SerdeBytes {
    pub fn as_slice(&self) -> &[u8] {
        &self.0
    }
}

impl Serialize for SerdeBytes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter())
    }
}

/// Read a sequence of bytes into a zeroizing buffer.
fn read_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<Zeroizing<Vec<u8>>, A::Error> {
    let hint = seq.size_hint().unwrap_or(0).min(1 << 16);
    let mut out = Zeroizing::new(Vec::with_capacity(hint.max(64)));
    while let Some(b) = seq.next_element::<u8>()? {
        if out.len() == out.capacity() {
            let mut bigger = Zeroizing::new(Vec::with_capacity(out.capacity().saturating_mul(2)));
            bigger.extend_from_slice(&out);
            // The old buffer is wiped as it drops.
            out = bigger;
        }
        out.push(b);
    }
    Ok(out)
}

/// A bare byte sequence (the value under `"vec"`).
struct SeqBytes(Zeroizing<Vec<u8>>);

impl<'de> Deserialize<'de> for SeqBytes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = SeqBytes;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an array of bytes")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<SeqBytes, A::Error> {
                read_seq(seq).map(SeqBytes)
            }
        }
        deserializer.deserialize_seq(V)
    }
}

impl<'de> Deserialize<'de> for SerdeBytes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = SerdeBytes;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an array of bytes or {\"vec\": [bytes]}")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<SerdeBytes, A::Error> {
                read_seq(seq).map(SerdeBytes)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<SerdeBytes, A::Error> {
                let mut found = None;
                while let Some(key) = map.next_key::<String>()? {
                    if key == "vec" {
                        found = Some(map.next_value::<SeqBytes>()?.0);
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                found
                    .map(SerdeBytes)
                    .ok_or_else(|| de::Error::missing_field("vec"))
            }
        }
        deserializer.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_forms_read_and_plain_form_written() -> Result<(), serde_json::Error> {
        let long: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        let plain: SerdeBytes = serde_json::from_slice(&serde_json::to_vec(&long)?)?;
        assert_eq!(plain.as_slice(), long.as_slice());
        let vl: SerdeBytes = serde_json::from_str(r#"{"vec":[1,2,3],"other":7}"#)?;
        assert_eq!(vl.as_slice(), &[1, 2, 3]);
        assert_eq!(serde_json::to_string(&vl)?, "[1,2,3]");
        assert!(serde_json::from_str::<SerdeBytes>(r#"{"other":[1]}"#).is_err());
        assert!(serde_json::from_str::<SerdeBytes>("[256]").is_err());
        assert!(serde_json::from_str::<SerdeBytes>("\"x\"").is_err());
        Ok(())
    }
}
