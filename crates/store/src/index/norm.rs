//! String normalisation for `string` search parameters: what a user types must
//! find what was stored. Case is folded, Latin accents are removed, full-width
//! ASCII and the ideographic space become their ASCII forms, half-width
//! katakana becomes full-width, and katakana becomes hiragana (so `ヤマダ`,
//! `やまだ` and `ﾔﾏﾀﾞ` are one name), and runs of spaces become one space.

/// Normalises a string for prefix, contains and equality matching.
pub fn normalize(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    let mut last_space = true;
    while let Some(c) = chars.next() {
        let c = match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            '\u{3000}' => ' ',
            '\u{FF61}'..='\u{FF9F}' => {
                let (base, mark) = halfwidth_kana(c);
                // A following half-width (semi-)voiced mark combines with the base.
                match chars.peek() {
                    Some('\u{FF9E}') if voiced(base).is_some() => {
                        chars.next();
                        voiced(base).unwrap_or(base)
                    }
                    Some('\u{FF9F}') if semi_voiced(base).is_some() => {
                        chars.next();
                        semi_voiced(base).unwrap_or(base)
                    }
                    _ => mark.unwrap_or(base),
                }
            }
            _ => c,
        };
        // Katakana → hiragana (ァ..ヶ); the prolonged sound mark stays.
        let c = if ('\u{30A1}'..='\u{30F6}').contains(&c) { char::from_u32(c as u32 - 0x60).unwrap_or(c) } else { c };
        if c.is_whitespace() {
            if !last_space {
                out.push(' ');
            }
            last_space = true;
            continue;
        }
        last_space = false;
        match fold_latin(c) {
            Some(s) => out.push_str(s),
            None => out.extend(c.to_lowercase()),
        }
    }
    if out.ends_with(' ') {
        out.pop();
    }
    out
}

/// Half-width katakana to full-width; the second value is set for the
/// stand-alone voiced marks.
fn halfwidth_kana(c: char) -> (char, Option<char>) {
    const TABLE: &str = "。「」、・ヲァィゥェォャュョッーアイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨラリルレロワン゛゜";
    let idx = c as u32 - 0xFF61;
    let full = TABLE.chars().nth(idx as usize).unwrap_or(c);
    (full, None)
}

fn voiced(c: char) -> Option<char> {
    let k = c as u32;
    match c {
        'カ' | 'キ' | 'ク' | 'ケ' | 'コ' | 'サ' | 'シ' | 'ス' | 'セ' | 'ソ' | 'タ' | 'チ' | 'ツ' | 'テ' | 'ト' | 'ハ' | 'ヒ'
        | 'フ' | 'ヘ' | 'ホ' => char::from_u32(k + 1),
        'ウ' => Some('ヴ'),
        _ => None,
    }
}

fn semi_voiced(c: char) -> Option<char> {
    match c {
        'ハ' | 'ヒ' | 'フ' | 'ヘ' | 'ホ' => char::from_u32(c as u32 + 2),
        _ => None,
    }
}

/// Latin letters with diacritics → their base letters (lower case).
fn fold_latin(c: char) -> Option<&'static str> {
    Some(match c {
        'À'..='Å' | 'à'..='å' | 'Ā' | 'ā' | 'Ă' | 'ă' | 'Ą' | 'ą' => "a",
        'Æ' | 'æ' => "ae",
        'Ç' | 'ç' | 'Ć' | 'ć' | 'Č' | 'č' => "c",
        'Ď' | 'ď' | 'Đ' | 'đ' => "d",
        'È'..='Ë' | 'è'..='ë' | 'Ē' | 'ē' | 'Ė' | 'ė' | 'Ę' | 'ę' | 'Ě' | 'ě' => "e",
        'Ì'..='Ï' | 'ì'..='ï' | 'Ī' | 'ī' | 'Į' | 'į' | 'İ' | 'ı' => "i",
        'Ñ' | 'ñ' | 'Ń' | 'ń' | 'Ň' | 'ň' => "n",
        'Ò'..='Ö' | 'Ø' | 'ò'..='ö' | 'ø' | 'Ō' | 'ō' | 'Ő' | 'ő' => "o",
        'Œ' | 'œ' => "oe",
        'Ř' | 'ř' => "r",
        'Ś' | 'ś' | 'Š' | 'š' | 'Ş' | 'ş' => "s",
        'ß' => "ss",
        'Ť' | 'ť' | 'Ţ' | 'ţ' => "t",
        'Ù'..='Ü' | 'ù'..='ü' | 'Ū' | 'ū' | 'Ů' | 'ů' | 'Ű' | 'ű' => "u",
        'Ý' | 'ý' | 'ÿ' | 'Ÿ' => "y",
        'Ź' | 'ź' | 'Ż' | 'ż' | 'Ž' | 'ž' => "z",
        'Ł' | 'ł' => "l",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::normalize;

    #[test]
    fn folds_case_accents_and_kana() {
        assert_eq!(normalize("  Renée  MÜLLER "), "renee muller");
        assert_eq!(normalize("ＹＡＭＡＤＡ　太郎"), "yamada 太郎");
        assert_eq!(normalize("ヤマダ"), "やまだ");
        assert_eq!(normalize("ﾔﾏﾀﾞ ﾀﾛｳ"), "やまだ たろう");
        assert_eq!(normalize("ﾊﾟﾝ"), "ぱん");
        assert_eq!(normalize("ｳﾞｧ"), "ゔぁ");
        assert_eq!(normalize("コーヒー"), "こーひー");
        assert_eq!(normalize("ｰ"), "ー");
        assert_eq!(normalize(""), "");
    }
}
