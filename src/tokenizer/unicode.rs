//! Codepoint classes and the GPT-2 byte-to-unicode mapping, as llama.cpp defines them
//! (src/unicode.cpp, src/unicode.h of llama.cpp as vendored by llama-cpp-python 0.3.36).
//!
//! The categories come from llama.cpp's own table ([`super::unicode_data`]), never from Rust's
//! `char` methods: the pre-tokenizer's idea of "letter" decides token boundaries, and a codepoint
//! that a newer Unicode version classifies differently would change the ids.

use super::unicode_data::RANGES;

/// A codepoint's flags: one category bit plus the whitespace bit (`unicode_cpt_flags`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Flags(pub u16);

impl Flags {
    pub const UNDEFINED: u16 = 0x0001;
    pub const NUMBER: u16 = 0x0002;
    pub const LETTER: u16 = 0x0004;
    pub const ACCENT_MARK: u16 = 0x0010;
    pub const PUNCTUATION: u16 = 0x0020;
    pub const SYMBOL: u16 = 0x0040;
    pub const MASK_CATEGORIES: u16 = 0x00FF;
    pub const WHITESPACE: u16 = 0x0100;

    /// Flags of a position outside the text (llama.cpp's `unicode_cpt_flags{}`): all clear.
    pub const OUT_OF_RANGE: Flags = Flags(0);

    pub fn is_number(self) -> bool {
        self.0 & Self::NUMBER != 0
    }
    pub fn is_letter(self) -> bool {
        self.0 & Self::LETTER != 0
    }
    pub fn is_accent_mark(self) -> bool {
        self.0 & Self::ACCENT_MARK != 0
    }
    pub fn is_whitespace(self) -> bool {
        self.0 & Self::WHITESPACE != 0
    }
    /// Non-zero for every codepoint of the text (even unassigned ones, which are UNDEFINED);
    /// zero only for [`Flags::OUT_OF_RANGE`]. llama.cpp's `as_uint()` tests.
    pub fn any(self) -> bool {
        self.0 != 0
    }
    pub fn category(self) -> u16 {
        self.0 & Self::MASK_CATEGORIES
    }
}

/// The flags of codepoint `cp` (`unicode_cpt_flags_from_cpt`).
pub(crate) fn flags(cp: u32) -> Flags {
    if cp < 0x80 {
        return Flags(ASCII[cp as usize]);
    }
    if cp >= 0x110000 {
        return Flags(Flags::UNDEFINED);
    }
    // Last range whose start is <= cp.
    let i = RANGES.partition_point(|&(start, _)| start <= cp);
    Flags(RANGES[i - 1].1)
}

/// ASCII flags, precomputed from the same table for the hot path.
static ASCII: [u16; 128] = {
    let mut out = [0u16; 128];
    let mut i = 0;
    let mut r = 0;
    while i < 128 {
        while r + 1 < RANGES.len() && RANGES[r + 1].0 <= i as u32 {
            r += 1;
        }
        out[i] = RANGES[r].1;
        i += 1;
    }
    out
};

/// llama.cpp's `unicode_tolower`, restricted to what the contraction rules need: only ASCII
/// letters lower-case to the ASCII letters the rules compare against ('s', 't', 'r', 'e', 'v',
/// 'm', 'l', 'd'); the table's two other mappings to ASCII (U+0130 -> 'i', U+212A -> 'k') never
/// reach those letters.
pub(crate) fn to_lower_ascii(cp: u32) -> u32 {
    if (b'A' as u32..=b'Z' as u32).contains(&cp) {
        cp + 32
    } else {
        cp
    }
}

/// GPT-2's byte-to-unicode table (`unicode_byte_to_utf8_map`): printable bytes map to
/// themselves, the other 68 to U+0100.. in byte order.
pub(crate) fn byte_to_char(b: u8) -> char {
    BYTE_TO_CHAR[b as usize]
}

static BYTE_TO_CHAR: [char; 256] = {
    let mut out = ['\0'; 256];
    let mut n = 0u32;
    let mut b = 0usize;
    while b < 256 {
        let printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
        out[b] = if printable {
            match char::from_u32(b as u32) {
                Some(c) => c,
                None => '\0',
            }
        } else {
            let c = match char::from_u32(256 + n) {
                Some(c) => c,
                None => '\0',
            };
            n += 1;
            c
        };
        b += 1;
    }
    out
};

/// The inverse of [`byte_to_char`] (`unicode_utf8_to_byte`): `None` for a char no byte maps to.
pub(crate) fn char_to_byte(c: char) -> Option<u8> {
    let cp = c as u32;
    match cp {
        0x21..=0x7E | 0xA1..=0xAC | 0xAE..=0xFF => Some(cp as u8),
        0x100..=0x143 => Some(CHAR_TO_BYTE_HIGH[(cp - 0x100) as usize]),
        _ => None,
    }
}

static CHAR_TO_BYTE_HIGH: [u8; 68] = {
    let mut out = [0u8; 68];
    let mut n = 0usize;
    let mut b = 0usize;
    while b < 256 {
        let printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
        if !printable {
            out[n] = b as u8;
            n += 1;
        }
        b += 1;
    }
    out
};

/// Byte-encodes text the GPT-2 way: every UTF-8 byte becomes its [`byte_to_char`] char.
pub(crate) fn byte_encode(text: &str, out: &mut String) {
    for &b in text.as_bytes() {
        out.push(byte_to_char(b));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn categories_match_llama_cpp_table() {
        assert!(flags('a' as u32).is_letter());
        assert!(flags('7' as u32).is_number());
        assert!(flags(' ' as u32).is_whitespace());
        assert!(flags('\n' as u32).is_whitespace());
        assert!(flags(0x0B).is_whitespace());
        assert!(!flags(0x1C).is_whitespace(), "U+001C is not whitespace for llama.cpp");
        assert!(flags(0x85).is_whitespace());
        assert!(flags(0xA0).is_whitespace());
        assert!(flags(0x3000).is_whitespace());
        assert!(!flags(0x200B).is_whitespace(), "ZERO WIDTH SPACE is a format char");
        assert!(flags('µ' as u32).is_letter());
        assert!(flags('é' as u32).is_letter());
        assert!(flags(0x301).is_accent_mark());
        assert!(flags('²' as u32).is_number());
        assert!(flags('Ⅻ' as u32).is_number());
        assert!(flags('糖' as u32).is_letter());
        assert_eq!(flags('.' as u32).category(), Flags::PUNCTUATION);
        assert_eq!(flags('+' as u32).category(), Flags::SYMBOL);
        assert_eq!(flags('~' as u32).category(), Flags::SYMBOL);
        assert_eq!(flags(0x1F600).category(), Flags::SYMBOL);
        assert!(flags(0x10FFFF).any());
        assert!(!Flags::OUT_OF_RANGE.any());
    }

    #[test]
    fn byte_mapping_round_trips() {
        let mut seen = std::collections::HashSet::new();
        for b in 0..=255u8 {
            let c = byte_to_char(b);
            assert!(seen.insert(c));
            assert_eq!(char_to_byte(c), Some(b));
        }
        assert_eq!(byte_to_char(b' '), 'Ġ');
        assert_eq!(byte_to_char(b'\n'), 'Ċ');
        assert_eq!(char_to_byte('a'), Some(b'a'));
        assert_eq!(char_to_byte('€'), None);
    }
}
