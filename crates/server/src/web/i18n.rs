//! The dashboard's languages (Japanese by default, English) and the table of
//! words shared by several pages. Page-specific text is written inline with
//! `Ctx::tr("日本語", "English")`.

/// A display language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Lang {
    /// 日本語 (the default).
    #[default]
    Ja,
    /// English.
    En,
}

impl Lang {
    /// Parses a `lang` query value or cookie (`ja`, `en`); None for anything else.
    pub(crate) fn parse(s: &str) -> Option<Lang> {
        match s.trim().to_ascii_lowercase().as_str() {
            "ja" | "ja-jp" => Some(Lang::Ja),
            "en" | "en-us" | "en-gb" => Some(Lang::En),
            _ => None,
        }
    }

    /// The BCP 47 code for `<html lang>`.
    pub(crate) fn code(self) -> &'static str {
        match self {
            Lang::Ja => "ja",
            Lang::En => "en",
        }
    }

    /// The other language (for the switch link).
    pub(crate) fn other(self) -> Lang {
        match self {
            Lang::Ja => Lang::En,
            Lang::En => Lang::Ja,
        }
    }

    /// Picks the text for this language.
    pub(crate) fn tr<'a>(self, ja: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Ja => ja,
            Lang::En => en,
        }
    }

    /// A word from the shared table.
    pub(crate) fn t(self, key: Key) -> &'static str {
        let (ja, en) = key.text();
        self.tr(ja, en)
    }

    /// Formats an integer with thousands separators (both languages use `,`).
    pub(crate) fn num(self, n: u64) -> String {
        let s = n.to_string();
        let mut out = String::with_capacity(s.len() + s.len() / 3);
        for (i, c) in s.chars().enumerate() {
            if i > 0 && (s.len() - i).is_multiple_of(3) {
                out.push(',');
            }
            out.push(c);
        }
        out
    }
}

macro_rules! keys {
    ($($k:ident => ($ja:literal, $en:literal),)*) => {
        /// A word or phrase used on several pages.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub(crate) enum Key { $($k,)* }
        impl Key {
            /// (Japanese, English).
            pub(crate) fn text(self) -> (&'static str, &'static str) {
                match self { $(Key::$k => ($ja, $en),)* }
            }
        }
    };
}

keys! {
    Home => ("ホーム", "Home"),
    Patients => ("患者", "Patients"),
    Studies => ("研究", "Studies"),
    Regional => ("地域分析", "Regional"),
    Sql => ("SQL", "SQL"),
    Fhir => ("FHIR", "FHIR"),
    Search => ("検索", "Search"),
    NoResults => ("該当するデータはありません。", "No results."),
    SkipToContent => ("本文へ移動", "Skip to content"),
    MainNav => ("メインメニュー", "Main navigation"),
    Language => ("English", "日本語"),
    BadRequest => ("リクエストに誤りがあります", "Bad request"),
    NotFound => ("見つかりません", "Not found"),
    ServerError => ("サーバーエラー", "Server error"),
    BackHome => ("ホームへ戻る", "Back to the home page"),
    Next => ("次へ", "Next"),
    RawJson => ("FHIR JSON", "FHIR JSON"),
    Count => ("件数", "Count"),
    Date => ("日付", "Date"),
    Name => ("氏名", "Name"),
    Id => ("ID", "ID"),
    BirthDate => ("生年月日", "Birth date"),
    Gender => ("性別", "Gender"),
    Download => ("ダウンロード", "Download"),
    Run => ("実行", "Run"),
    Rows => ("行", "rows"),
    Tagline => ("医療デジタルツイン基盤", "Medical digital-twin platform"),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_numbers() {
        assert_eq!(Lang::parse("EN"), Some(Lang::En));
        assert_eq!(Lang::parse("ja"), Some(Lang::Ja));
        assert_eq!(Lang::parse("fr"), None);
        assert_eq!(Lang::Ja.num(0), "0");
        assert_eq!(Lang::Ja.num(999), "999");
        assert_eq!(Lang::Ja.num(1000), "1,000");
        assert_eq!(Lang::En.num(1234567), "1,234,567");
        assert_eq!(Lang::En.t(Key::Patients), "Patients");
        assert_eq!(Lang::Ja.t(Key::Patients), "患者");
    }
}
