//! Universal Binary JSON (draft 12), as XGBoost writes `.ubj` models.
//!
//! Decoding produces a `serde_json::Value` so the JSON model reader serves
//! both formats. Float32 values are widened to f64 exactly and narrowed
//! back to the same f32 by the reader, so nothing is lost.

use serde_json::{Map, Number, Value};

use crate::ModelError;

/// Nesting deeper than any model needs; guards the recursion against
/// hostile input.
const MAX_DEPTH: usize = 64;

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn err(&self, message: impl Into<String>) -> ModelError {
        ModelError::Ubjson {
            offset: self.pos,
            message: message.into(),
        }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], ModelError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.bytes.len())
            .ok_or_else(|| self.err(format!("truncated: needed {n} more bytes")))?;
        let s = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn byte(&mut self) -> Result<u8, ModelError> {
        Ok(self.take(1)?[0])
    }

    fn peek(&self) -> Result<u8, ModelError> {
        self.bytes
            .get(self.pos)
            .copied()
            .ok_or_else(|| self.err("truncated: expected a marker"))
    }

    fn int(&mut self, marker: u8) -> Result<i64, ModelError> {
        Ok(match marker {
            b'i' => self.take(1)?[0] as i8 as i64,
            b'U' => self.take(1)?[0] as i64,
            b'I' => i16::from_be_bytes(self.take(2)?.try_into().expect("2 bytes")) as i64,
            b'l' => i32::from_be_bytes(self.take(4)?.try_into().expect("4 bytes")) as i64,
            b'L' => i64::from_be_bytes(self.take(8)?.try_into().expect("8 bytes")),
            m => return Err(self.err(format!("expected an integer marker, found {:?}", m as char))),
        })
    }

    fn length(&mut self) -> Result<usize, ModelError> {
        let m = self.byte()?;
        let n = self.int(m)?;
        let n = usize::try_from(n).map_err(|_| self.err(format!("negative length {n}")))?;
        // A length cannot exceed the bytes left; refusing early stops a
        // corrupt count from reserving gigabytes.
        if n > self.bytes.len() - self.pos {
            return Err(self.err(format!("length {n} exceeds the remaining input")));
        }
        Ok(n)
    }

    fn string(&mut self) -> Result<String, ModelError> {
        let n = self.length()?;
        let s = self.take(n)?;
        String::from_utf8(s.to_vec()).map_err(|_| self.err("string is not UTF-8"))
    }

    fn value_of(&mut self, marker: u8, depth: usize) -> Result<Value, ModelError> {
        if depth > MAX_DEPTH {
            return Err(self.err("nesting too deep"));
        }
        Ok(match marker {
            b'Z' => Value::Null,
            b'T' => Value::Bool(true),
            b'F' => Value::Bool(false),
            b'i' | b'U' | b'I' | b'l' | b'L' => Value::Number(self.int(marker)?.into()),
            b'd' => {
                let v = f32::from_be_bytes(self.take(4)?.try_into().expect("4 bytes"));
                float(v as f64)
            }
            b'D' => float(f64::from_be_bytes(
                self.take(8)?.try_into().expect("8 bytes"),
            )),
            b'C' => Value::String((self.byte()? as char).to_string()),
            b'S' | b'H' => Value::String(self.string()?),
            b'[' => self.array(depth)?,
            b'{' => self.object(depth)?,
            m => return Err(self.err(format!("unknown marker {:?}", m as char))),
        })
    }

    /// Reads the optional `$type#count` header of an optimised container.
    fn container_header(&mut self) -> Result<(Option<u8>, Option<usize>), ModelError> {
        let mut ty = None;
        if self.peek()? == b'$' {
            self.pos += 1;
            ty = Some(self.byte()?);
            if self.peek()? != b'#' {
                return Err(self.err("a typed container must have a count"));
            }
        }
        let mut count = None;
        if self.peek()? == b'#' {
            self.pos += 1;
            count = Some(self.length()?);
        }
        Ok((ty, count))
    }

    fn array(&mut self, depth: usize) -> Result<Value, ModelError> {
        let (ty, count) = self.container_header()?;
        let mut items = Vec::new();
        match count {
            Some(n) => {
                items.reserve(n.min(1 << 20));
                for _ in 0..n {
                    let m = match ty {
                        Some(t) => t,
                        None => self.byte()?,
                    };
                    items.push(self.value_of(m, depth + 1)?);
                }
            }
            None => loop {
                let m = self.byte()?;
                if m == b']' {
                    break;
                }
                if m == b'N' {
                    continue;
                }
                items.push(self.value_of(m, depth + 1)?);
            },
        }
        Ok(Value::Array(items))
    }

    fn object(&mut self, depth: usize) -> Result<Value, ModelError> {
        let (ty, count) = self.container_header()?;
        let mut map = Map::new();
        match count {
            Some(n) => {
                for _ in 0..n {
                    let key = self.string()?;
                    let m = match ty {
                        Some(t) => t,
                        None => self.byte()?,
                    };
                    map.insert(key, self.value_of(m, depth + 1)?);
                }
            }
            None => loop {
                if self.peek()? == b'}' {
                    self.pos += 1;
                    break;
                }
                if self.peek()? == b'N' {
                    self.pos += 1;
                    continue;
                }
                let key = self.string()?;
                let m = self.byte()?;
                map.insert(key, self.value_of(m, depth + 1)?);
            },
        }
        Ok(Value::Object(map))
    }
}

fn float(v: f64) -> Value {
    // JSON has no NaN; a NaN here would only ever be a corrupt value, and
    // the model reader rejects null where it expects a number.
    Number::from_f64(v).map_or(Value::Null, Value::Number)
}

/// Decodes a UBJSON document into a JSON value.
pub(crate) fn decode(bytes: &[u8]) -> Result<Value, ModelError> {
    let mut r = Reader { bytes, pos: 0 };
    let m = r.byte()?;
    let v = r.value_of(m, 0)?;
    if r.pos != bytes.len() {
        return Err(r.err("trailing bytes after the document"));
    }
    Ok(v)
}

/// Encodes a JSON value as UBJSON the way XGBoost does: numbers that are
/// integers as int64, others as float32 when exact, float64 otherwise.
pub(crate) fn encode(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.push(b'Z'),
        Value::Bool(b) => out.push(if *b { b'T' } else { b'F' }),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                out.push(b'L');
                out.extend_from_slice(&i.to_be_bytes());
            } else {
                let f = n.as_f64().unwrap_or(f64::NAN);
                if (f as f32) as f64 == f {
                    out.push(b'd');
                    out.extend_from_slice(&(f as f32).to_be_bytes());
                } else {
                    out.push(b'D');
                    out.extend_from_slice(&f.to_be_bytes());
                }
            }
        }
        Value::String(s) => {
            out.push(b'S');
            encode_str(s, out);
        }
        Value::Array(items) => {
            out.push(b'[');
            for i in items {
                encode(i, out);
            }
            out.push(b']');
        }
        Value::Object(map) => {
            out.push(b'{');
            for (k, v) in map {
                encode_str(k, out);
                encode(v, out);
            }
            out.push(b'}');
        }
    }
}

fn encode_str(s: &str, out: &mut Vec<u8>) {
    out.push(b'L');
    out.extend_from_slice(&(s.len() as i64).to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trip() {
        let v = json!({"a": [1, 2.5, "x", true, null], "b": {"c": -7}});
        let mut buf = Vec::new();
        encode(&v, &mut buf);
        assert_eq!(decode(&buf).unwrap(), v);
    }

    #[test]
    fn typed_float_array() {
        // [$d#i\x02 <1.5f32> <2.0f32>
        let mut b = vec![b'[', b'$', b'd', b'#', b'i', 2];
        b.extend_from_slice(&1.5f32.to_be_bytes());
        b.extend_from_slice(&2.0f32.to_be_bytes());
        assert_eq!(decode(&b).unwrap(), json!([1.5, 2.0]));
    }

    #[test]
    fn truncated_is_an_error() {
        let b = [b'[', b'$', b'd', b'#', b'i', 2, 0, 0];
        let e = decode(&b).unwrap_err().to_string();
        assert!(e.contains("truncated") || e.contains("exceeds"), "{e}");
    }

    #[test]
    fn huge_count_is_refused_without_allocation() {
        let b = [
            b'[', b'#', b'L', 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        ];
        assert!(decode(&b).is_err());
    }
}
