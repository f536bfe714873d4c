//! Decoding wsl.exe output.
//!
//! wsl.exe writes UTF-16LE unless `WSL_UTF8=1` is set (WSL-FACTS.md). We always set it, but
//! old inbox builds ignore the variable, so the bytes are sniffed: a UTF-16LE BOM, or NULs in
//! the high bytes of mostly-ASCII text, means UTF-16LE.

/// Decodes wsl.exe stdout/stderr to text with `\r` removed.
pub fn decode_output(bytes: &[u8]) -> String {
    let text = if let Some(rest) = bytes.strip_prefix(&[0xFF, 0xFE]) {
        utf16le(rest)
    } else if looks_like_utf16le(bytes) {
        utf16le(bytes)
    } else {
        let bytes = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(bytes);
        String::from_utf8_lossy(bytes).into_owned()
    };
    text.replace(['\r', '\0'], "")
}

fn looks_like_utf16le(bytes: &[u8]) -> bool {
    if bytes.len() < 2 {
        return false;
    }
    let odd = bytes.iter().skip(1).step_by(2);
    let pairs = bytes.len() / 2;
    let zero_high = odd.filter(|b| **b == 0).count();
    // ASCII text in UTF-16LE has a NUL in every high byte; UTF-8 text never has NULs.
    zero_high * 2 > pairs
}

fn utf16le(bytes: &[u8]) -> String {
    let units: Vec<u16> = bytes
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    String::from_utf16_lossy(&units)
}

/// Encodes text the way wsl.exe does without `WSL_UTF8=1` (used by the simulator and tests).
pub fn encode_utf16le(text: &str) -> Vec<u8> {
    text.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf16le_without_bom_decoded() {
        let bytes = encode_utf16le("  NAME      STATE\r\n* Ubuntu    Stopped\r\n");
        assert_eq!(
            decode_output(&bytes),
            "  NAME      STATE\n* Ubuntu    Stopped\n"
        );
    }

    #[test]
    fn utf16le_with_bom_decoded() {
        let mut bytes = vec![0xFF, 0xFE];
        bytes.extend(encode_utf16le("Ubuntü\r\n"));
        assert_eq!(decode_output(&bytes), "Ubuntü\n");
    }

    #[test]
    fn utf8_with_wsl_utf8_decoded() {
        assert_eq!(
            decode_output("WSL version: 2.3.26.0\r\nÄ\r\n".as_bytes()),
            "WSL version: 2.3.26.0\nÄ\n"
        );
        assert_eq!(decode_output(b""), "");
        assert_eq!(decode_output(b"x"), "x");
    }
}
