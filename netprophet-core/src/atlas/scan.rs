//! A fast path for reading the fields of an Atlas result.
//!
//! Reading archives is dominated by JSON parsing, and a result line carries
//! some thirty keys of which ten matter. This scanner walks the object
//! once, validates everything it skips against the JSON grammar, and reads
//! only the keys that matter. It gives up (returns `None`) on anything
//! outside the shapes Atlas writes — escapes in keys, `null`s, duplicate
//! keys, string-typed numbers, deep nesting, invalid JSON — and the caller
//! then uses serde, which decides and explains. A property test checks that
//! whenever this path answers, serde gives the same answer.

use super::packet::{packet, Fields, Packet};

/// Nesting deeper than this is left to serde (which has its own limit).
const MAX_DEPTH: usize = 64;

struct Scan<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Scan<'a> {
    fn ws(&mut self) {
        while let Some(c) = self.b.get(self.i) {
            if matches!(c, b' ' | b'\n' | b'\r' | b'\t') {
                self.i += 1;
            } else {
                break;
            }
        }
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn eat(&mut self, c: u8) -> Option<()> {
        self.ws();
        if self.peek()? == c {
            self.i += 1;
            Some(())
        } else {
            None
        }
    }

    /// A string's raw content; `escaped` says whether it has escapes.
    fn string(&mut self) -> Option<(&'a [u8], bool)> {
        self.eat(b'"')?;
        let start = self.i;
        let mut escaped = false;
        loop {
            // Control characters were ruled out for the whole line up front,
            // so only quotes and backslashes matter here.
            self.i += memchr::memchr2(b'"', b'\\', &self.b[self.i..])?;
            let c = self.peek()?;
            match c {
                b'"' => {
                    let s = &self.b[start..self.i];
                    self.i += 1;
                    return Some((s, escaped));
                }
                b'\\' => {
                    escaped = true;
                    self.i += 1;
                    match self.peek()? {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => self.i += 1,
                        b'u' => {
                            let hex = self.b.get(self.i + 1..self.i + 5)?;
                            if !hex.iter().all(u8::is_ascii_hexdigit) {
                                return None;
                            }
                            // Surrogate pairing rules are left to serde.
                            let v = u16::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?;
                            if (0xD800..0xE000).contains(&v) {
                                return None;
                            }
                            self.i += 5;
                        }
                        _ => return None,
                    }
                }
                0x00..=0x1f => return None,
                _ => self.i += 1,
            }
        }
    }

    /// A number's text, checked against the JSON number grammar.
    fn number(&mut self) -> Option<&'a [u8]> {
        self.ws();
        let start = self.i;
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.peek()? {
            b'0' => self.i += 1,
            b'1'..=b'9' => self.digits(),
            _ => return None,
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            if !self.peek()?.is_ascii_digit() {
                return None;
            }
            self.digits();
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if !self.peek()?.is_ascii_digit() {
                return None;
            }
            let exp = self.i;
            self.digits();
            // Huge exponents may be out of range for serde; leave them to it.
            if self.i - exp > 2 {
                return None;
            }
        }
        // So may very long mantissas.
        if self.i - start > 64 {
            return None;
        }
        Some(&self.b[start..self.i])
    }

    fn digits(&mut self) {
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.i += 1;
        }
    }

    fn float(&mut self) -> Option<f64> {
        // Correctly rounded, like Python's float() and serde_json with
        // `float_roundtrip`.
        let v: f64 = std::str::from_utf8(self.number()?).ok()?.parse().ok()?;
        // serde refuses out-of-range numbers; let it say so.
        v.is_finite().then_some(v)
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        if self.b.get(self.i..self.i + word.len())? == word {
            self.i += word.len();
            Some(())
        } else {
            None
        }
    }

    /// Skips any value, validating it. `null` is refused here because
    /// serde reads a `null` field as absent, which this path does not model.
    fn skip(&mut self, depth: usize) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.ws();
        match self.peek()? {
            b'"' => self.string().map(|_| ()),
            b'{' => self.members(|s, _, _| s.skip_any(depth + 1)),
            b'[' => self.elements(|s| s.skip_any(depth + 1)),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'-' | b'0'..=b'9' => self.number().map(|_| ()),
            _ => None,
        }
    }

    /// Inside skipped values `null` is ordinary.
    fn skip_any(&mut self, depth: usize) -> Option<()> {
        self.ws();
        if self.peek()? == b'n' {
            return self.literal(b"null");
        }
        self.skip(depth)
    }

    /// An object's members: `on_member(self, key, key_has_escapes)` is
    /// called with each key and must consume its value.
    fn members(
        &mut self,
        mut on_member: impl FnMut(&mut Self, &'a [u8], bool) -> Option<()>,
    ) -> Option<()> {
        self.sequence(b'{', b'}', |s| {
            let (key, escaped) = s.string()?;
            s.eat(b':')?;
            s.ws();
            on_member(s, key, escaped)
        })
    }

    /// An object's keys, calling `on_key` with each key; `on_key` must
    /// consume the value. Keys with escapes are left to serde, as are
    /// duplicate tracked keys (refused by the caller).
    fn object(&mut self, mut on_key: impl FnMut(&mut Self, &'a [u8]) -> Option<()>) -> Option<()> {
        self.members(|s, key, escaped| if escaped { None } else { on_key(s, key) })
    }

    /// An array's elements: `on_element` must consume each one.
    fn elements(&mut self, on_element: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
        self.sequence(b'[', b']', on_element)
    }

    /// A bracketed, comma-separated sequence (an object's members or an
    /// array's elements): `item` must consume each entry.
    fn sequence(
        &mut self,
        open: u8,
        close: u8,
        mut item: impl FnMut(&mut Self) -> Option<()>,
    ) -> Option<()> {
        self.eat(open)?;
        self.ws();
        if self.peek()? == close {
            self.i += 1;
            return Some(());
        }
        loop {
            self.ws();
            item(self)?;
            self.ws();
            match self.peek()? {
                b',' => self.i += 1,
                c if c == close => {
                    self.i += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }
}

/// Sets a tracked field once; a second occurrence is refused, as serde
/// refuses duplicate fields.
fn once<T>(slot: &mut Option<T>, v: T) -> Option<()> {
    if slot.is_some() {
        return None;
    }
    *slot = Some(v);
    Some(())
}

fn packets(s: &mut Scan<'_>) -> Option<Vec<Packet>> {
    let mut out = Vec::with_capacity(4);
    s.elements(|s| {
        let (mut rtt, mut x, mut error, mut dup, mut late) = (None, None, None, None, None);
        s.object(|s, key| match key {
            b"rtt" => once(&mut rtt, s.float()?),
            b"x" => {
                s.skip(1)?;
                once(&mut x, ())
            }
            b"error" => {
                s.skip(1)?;
                once(&mut error, ())
            }
            b"dup" => {
                s.skip(1)?;
                once(&mut dup, ())
            }
            b"late" => {
                s.skip(1)?;
                once(&mut late, ())
            }
            _ => s.skip_any(1),
        })?;
        out.push(packet(
            rtt,
            x.is_some(),
            error.is_some(),
            dup.is_some(),
            late.is_some(),
        ));
        Some(())
    })?;
    Some(out)
}

/// The fields of one result, or `None` to let serde decide.
pub(crate) fn fields(json: &[u8]) -> Option<Fields> {
    // Serde rejects invalid UTF-8 anywhere; checking once up front lets the
    // scanner work on bytes. Control characters are legal only as
    // whitespace between tokens; a line with any is left to serde, which
    // lets strings be scanned with memchr.
    std::str::from_utf8(json).ok()?;
    if json.iter().any(|&b| b < 0x20) {
        return None;
    }
    let mut s = Scan { b: json, i: 0 };
    let mut f = Fields::default();
    let (mut kind, mut prb, mut ts, mut msm, mut af, mut fw, mut sent, mut rcvd) =
        (None, None, None, None, None, None, None, None);
    let (mut dst, mut addr, mut result) = (None, None, None);
    s.object(|s, key| match key {
        b"type" => {
            let (v, escaped) = s.string()?;
            if escaped {
                return None;
            }
            once(&mut kind, v)
        }
        b"prb_id" => once(&mut prb, s.float()?),
        b"timestamp" => once(&mut ts, s.float()?),
        b"msm_id" => once(&mut msm, s.float()?),
        b"af" => once(&mut af, s.float()?),
        b"fw" => once(&mut fw, s.float()?),
        b"sent" => once(&mut sent, s.float()?),
        b"rcvd" => once(&mut rcvd, s.float()?),
        b"dst_addr" | b"addr" => {
            let (v, escaped) = s.string()?;
            if escaped {
                return None;
            }
            once(if key == b"addr" { &mut addr } else { &mut dst }, v)
        }
        b"result" => once(&mut result, packets(s)?),
        _ => s.skip_any(0),
    })?;
    s.ws();
    if s.i != json.len() {
        return None;
    }
    f.not_ping = kind.is_some_and(|k: &[u8]| k != b"ping");
    f.prb_id = prb;
    f.timestamp = ts;
    f.msm_id = msm;
    f.af = af;
    f.fw = fw;
    f.sent = sent;
    f.rcvd = rcvd;
    f.dst_v6 = dst.or(addr).is_some_and(|d: &[u8]| d.contains(&b':'));
    f.packets = result.unwrap_or_default();
    Some(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn current_and_old_shapes_take_the_fast_path() {
        let fw5 = br#"{"fw":5100,"lts":5,"af":4,"dst_addr":"193.0.14.129","result":[{"rtt":7.78},{"rtt":7.74},{"x":"*"}],"dup":0,"rcvd":2,"sent":3,"msm_id":1001,"prb_id":1009618,"timestamp":1787541897,"type":"ping"}"#;
        let f = fields(fw5).expect("fast path");
        assert_eq!(f.prb_id, Some(1_009_618.0));
        assert_eq!(
            f.packets,
            vec![Packet::Reply(7.78), Packet::Reply(7.74), Packet::Timeout]
        );
        for line in include_str!("../../../fixtures/data/ping-firmware-variants.ndjson")
            .lines()
            .skip(2)
        {
            assert!(fields(line.as_bytes()).is_some(), "{line}");
        }
    }

    #[test]
    fn unusual_input_is_left_to_serde() {
        for bad in [
            &br#"{"prb_id":"1","timestamp":1}"#[..],
            br#"{"prb_id":1,"timestamp":1,"result":[{"rtt":null}]}"#,
            br#"{"prb_id":1,"prb_id":2,"timestamp":1}"#,
            br#"{"prb_id":1,"timestamp":1} x"#,
            br#"{"prb_id":1,"timestamp":1e400}"#,
            br#"{"prb_id":01,"timestamp":1}"#,
            b"{\"prb_id\":1,\"timestamp\":1,\"s\":\"a\x01\"}",
        ] {
            assert!(fields(bad).is_none(), "{}", String::from_utf8_lossy(bad));
        }
    }
}
