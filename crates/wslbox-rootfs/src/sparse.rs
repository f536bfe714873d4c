//! PAX sparse files (GNU tar `--format=posix --sparse`, formats 0.0, 0.1 and 1.0): the `tar`
//! crate hands us the stored bytes, so the map is decoded here and the file is expanded into
//! the spool. Holes become holes in the spool file, so they cost no disk. (Old GNU `S` entries
//! are expanded by the `tar` crate itself.)

use std::io::{self, Read};

/// At most this many segments per file: a bound on memory for hostile maps.
const MAX_SEGMENTS: usize = 1 << 20;

/// The `GNU.sparse.*` records of one entry.
#[derive(Debug, Default)]
pub(crate) struct SparsePax {
    pub major: Option<u64>,
    pub name: Option<Vec<u8>>,
    /// `GNU.sparse.realsize` (1.0) or `GNU.sparse.size` (0.x).
    pub real_size: Option<u64>,
    /// `GNU.sparse.map` (0.1): `offset,size,offset,size,...`.
    pub map: Option<Vec<u8>>,
    /// Repeated `GNU.sparse.offset` / `GNU.sparse.numbytes` (0.0).
    pub offsets: Vec<u64>,
    pub numbytes: Vec<u64>,
}

impl SparsePax {
    /// Records one PAX record if it is a sparse one; returns whether it was.
    pub fn record(&mut self, key: &[u8], value: &[u8]) -> Result<bool, String> {
        let Some(k) = key.strip_prefix(b"GNU.sparse.") else {
            return Ok(false);
        };
        let num = || {
            parse_num(value).ok_or_else(|| {
                format!(
                    "bad PAX sparse record GNU.sparse.{}",
                    String::from_utf8_lossy(k)
                )
            })
        };
        match k {
            b"major" => self.major = Some(num()?),
            b"name" => self.name = Some(value.to_vec()),
            b"realsize" | b"size" => self.real_size = Some(num()?),
            b"map" => self.map = Some(value.to_vec()),
            b"offset" => self.offsets.push(num()?),
            b"numbytes" => self.numbytes.push(num()?),
            _ => {}
        }
        Ok(true)
    }

    pub fn is_sparse(&self) -> bool {
        self.real_size.is_some()
            && (self.major.is_some() || self.map.is_some() || !self.offsets.is_empty())
    }

    /// The data segments `(offset, len)` of the expanded file, reading the in-body map of
    /// format 1.0 from `body`.
    pub fn segments(&self, body: &mut dyn Read) -> Result<Vec<(u64, u64)>, String> {
        let pairs: Vec<u64> = if self.major == Some(1) {
            read_body_map(body)?
        } else if let Some(map) = &self.map {
            if map.is_empty() {
                Vec::new()
            } else {
                map.split(|&b| b == b',')
                    .map(|v| parse_num(v).ok_or("bad GNU.sparse.map"))
                    .collect::<Result<_, _>>()?
            }
        } else {
            if self.offsets.len() != self.numbytes.len() {
                return Err("GNU.sparse.offset and GNU.sparse.numbytes do not pair up".into());
            }
            self.offsets
                .iter()
                .zip(&self.numbytes)
                .flat_map(|(o, n)| [*o, *n])
                .collect()
        };
        if !pairs.len().is_multiple_of(2) || pairs.len() / 2 > MAX_SEGMENTS {
            return Err("malformed sparse map".into());
        }
        let real = self.real_size.unwrap_or(0);
        let mut end = 0u64;
        let mut out = Vec::with_capacity(pairs.len() / 2);
        for pair in pairs.chunks(2) {
            let (off, len) = (pair[0], pair[1]);
            let seg_end = off.checked_add(len).ok_or("sparse segment overflows")?;
            if off < end || seg_end > real {
                return Err("sparse segments overlap or lie beyond the file size".into());
            }
            end = seg_end;
            out.push((off, len));
        }
        Ok(out)
    }
}

fn parse_num(v: &[u8]) -> Option<u64> {
    std::str::from_utf8(v).ok()?.trim().parse().ok()
}

/// Format 1.0: decimal lines (count, then offset/size pairs) padded to a 512-byte block.
fn read_body_map(body: &mut dyn Read) -> Result<Vec<u64>, String> {
    let mut consumed = 0usize;
    let mut next_number = |consumed: &mut usize| -> Result<u64, String> {
        let mut digits = Vec::new();
        loop {
            let mut b = [0u8];
            body.read_exact(&mut b)
                .map_err(|e| format!("reading the sparse map: {e}"))?;
            *consumed += 1;
            match b[0] {
                b'\n' => break,
                d if d.is_ascii_digit() && digits.len() < 20 => digits.push(d),
                _ => return Err("malformed sparse map".into()),
            }
        }
        parse_num(&digits).ok_or_else(|| "malformed sparse map".to_owned())
    };
    let count = usize::try_from(next_number(&mut consumed)?).map_err(|_| "sparse map too big")?;
    if count > MAX_SEGMENTS {
        return Err("sparse map too big".into());
    }
    let mut pairs = Vec::with_capacity(count * 2);
    for _ in 0..count * 2 {
        pairs.push(next_number(&mut consumed)?);
    }
    let pad = (512 - consumed % 512) % 512;
    io::copy(&mut body.take(pad as u64), &mut io::sink())
        .map_err(|e| format!("reading the sparse map: {e}"))?;
    Ok(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pax(records: &[(&str, &str)]) -> SparsePax {
        let mut s = SparsePax::default();
        for (k, v) in records {
            assert!(s.record(k.as_bytes(), v.as_bytes()).unwrap());
        }
        s
    }

    #[test]
    fn format_1_0_reads_the_map_from_the_body() {
        let s = pax(&[
            ("GNU.sparse.major", "1"),
            ("GNU.sparse.minor", "0"),
            ("GNU.sparse.realsize", "100"),
        ]);
        let mut body = b"2\n0\n4\n90\n10\n".to_vec();
        body.resize(512, 0);
        body.extend_from_slice(b"DATA");
        let mut r = &body[..];
        assert_eq!(s.segments(&mut r).unwrap(), vec![(0, 4), (90, 10)]);
        assert_eq!(r, b"DATA");
    }

    #[test]
    fn formats_0_1_and_0_0_use_pax_records() {
        let s = pax(&[("GNU.sparse.size", "50"), ("GNU.sparse.map", "0,5,40,10")]);
        assert_eq!(
            s.segments(&mut io::empty()).unwrap(),
            vec![(0, 5), (40, 10)]
        );
        let s = pax(&[
            ("GNU.sparse.size", "50"),
            ("GNU.sparse.offset", "0"),
            ("GNU.sparse.numbytes", "5"),
            ("GNU.sparse.offset", "40"),
            ("GNU.sparse.numbytes", "10"),
        ]);
        assert_eq!(
            s.segments(&mut io::empty()).unwrap(),
            vec![(0, 5), (40, 10)]
        );
    }

    #[test]
    fn overlapping_or_oversized_segments_are_refused() {
        let s = pax(&[("GNU.sparse.size", "50"), ("GNU.sparse.map", "0,30,20,10")]);
        assert!(s.segments(&mut io::empty()).is_err());
        let s = pax(&[("GNU.sparse.size", "50"), ("GNU.sparse.map", "45,10")]);
        assert!(s.segments(&mut io::empty()).is_err());
    }
}
