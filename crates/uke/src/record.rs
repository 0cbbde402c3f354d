//! One UKE record (a line): its fields as text, its kind, and typed read-only
//! views that name the fields of the common record types.
//!
//! Field indexes are 0-based and include the record identifier: index 0 is
//! `RE`, so index *n* is item *n + 1* of the 記録条件仕様 (record
//! specification). Layouts follow the 医科 (medical) specification.

/// The record identifier (the first field).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordKind {
    /// 医療機関情報 (facility; one per file).
    Ir,
    /// レセプト共通 (claim header and patient).
    Re,
    /// 保険者 (insurer).
    Ho,
    /// 公費 (public payer).
    Ko,
    /// 資格確認 (eligibility check).
    Sn,
    /// 傷病名 (diagnosis).
    Sy,
    /// 診療行為 (procedure).
    Si,
    /// 医薬品 (drug).
    Iy,
    /// 特定器材 (material / device).
    To,
    /// コメント (comment).
    Co,
    /// 症状詳記 (symptom details).
    Sj,
    /// 日計表 (daily totals).
    Nk,
    /// 受診日等 (visit days).
    Jd,
    /// 窓口負担額 (co-payment).
    Mf,
    /// 臓器提供者 records and other identifiers not named here.
    Other,
    /// 合計 (file total; closes the file).
    Go,
}

impl RecordKind {
    /// The kind of a record identifier.
    pub fn from_id(id: &str) -> RecordKind {
        match id {
            "IR" => RecordKind::Ir,
            "RE" => RecordKind::Re,
            "HO" => RecordKind::Ho,
            "KO" => RecordKind::Ko,
            "SN" => RecordKind::Sn,
            "SY" => RecordKind::Sy,
            "SI" => RecordKind::Si,
            "IY" => RecordKind::Iy,
            "TO" => RecordKind::To,
            "CO" => RecordKind::Co,
            "SJ" => RecordKind::Sj,
            "NK" => RecordKind::Nk,
            "JD" => RecordKind::Jd,
            "MF" => RecordKind::Mf,
            "GO" => RecordKind::Go,
            _ => RecordKind::Other,
        }
    }
}

/// One record: fields as decoded text, plus the original bytes when the text
/// alone would not reproduce them (invalid or non-canonical Shift_JIS).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub(crate) fields: Vec<String>,
    pub(crate) raw: Option<Vec<u8>>,
}

impl Record {
    /// A record from field values (index 0 is the identifier such as `SY`).
    pub fn new<I, S>(fields: I) -> Record
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Record { fields: fields.into_iter().map(Into::into).collect(), raw: None }
    }

    /// The record identifier (`RE`).
    pub fn id(&self) -> &str {
        self.field(0)
    }

    /// The record kind.
    pub fn kind(&self) -> RecordKind {
        RecordKind::from_id(self.id())
    }

    /// Field `i` (0-based, 0 = identifier); empty when absent.
    pub fn field(&self, i: usize) -> &str {
        self.fields.get(i).map(String::as_str).unwrap_or("")
    }

    /// All fields.
    pub fn fields(&self) -> &[String] {
        &self.fields
    }

    /// Replaces field `i`, growing the record as needed; the record is then
    /// written from its fields, not its original bytes.
    pub fn set(&mut self, i: usize, value: impl Into<String>) {
        if self.fields.len() <= i {
            self.fields.resize(i + 1, String::new());
        }
        self.fields[i] = value.into();
        self.raw = None;
    }

    /// True when the record will be written from its original bytes because
    /// its text does not re-encode to them.
    pub fn keeps_raw_bytes(&self) -> bool {
        self.raw.is_some()
    }

    fn view<'a, T>(&'a self, kind: RecordKind, f: fn(&'a Record) -> T) -> Option<T> {
        (self.kind() == kind).then(|| f(self))
    }

    /// The IR view.
    pub fn as_ir(&self) -> Option<Ir<'_>> {
        self.view(RecordKind::Ir, Ir)
    }
    /// The RE view.
    pub fn as_re(&self) -> Option<Re<'_>> {
        self.view(RecordKind::Re, Re)
    }
    /// The HO view.
    pub fn as_ho(&self) -> Option<Ho<'_>> {
        self.view(RecordKind::Ho, Ho)
    }
    /// The KO view.
    pub fn as_ko(&self) -> Option<Ko<'_>> {
        self.view(RecordKind::Ko, Ko)
    }
    /// The SY view.
    pub fn as_sy(&self) -> Option<Sy<'_>> {
        self.view(RecordKind::Sy, Sy)
    }
    /// The CO view.
    pub fn as_co(&self) -> Option<Co<'_>> {
        self.view(RecordKind::Co, Co)
    }
    /// The GO view.
    pub fn as_go(&self) -> Option<Go<'_>> {
        self.view(RecordKind::Go, Go)
    }
    /// The SI/IY/TO view (a billed line).
    pub fn as_line(&self) -> Option<Line<'_>> {
        matches!(self.kind(), RecordKind::Si | RecordKind::Iy | RecordKind::To).then_some(Line(self))
    }
}

macro_rules! accessors {
    ($ty:ident { $($(#[$m:meta])* $name:ident = $i:expr;)* }) => {
        impl<'a> $ty<'a> {
            $( $(#[$m])* pub fn $name(&self) -> &'a str { self.0.field($i) } )*
            /// The underlying record.
            pub fn record(&self) -> &'a Record { self.0 }
        }
    };
}

/// IR: 医療機関情報 (facility).
#[derive(Debug, Clone, Copy)]
pub struct Ir<'a>(&'a Record);
accessors!(Ir {
    /// 審査支払機関 (1 = 社保, 2 = 国保).
    payer = 1;
    /// 都道府県コード (2 digits).
    prefecture = 2;
    /// 点数表 (1 = 医科, 3 = 歯科, 4 = 調剤).
    point_table = 3;
    /// 医療機関コード (7 digits).
    facility_code = 4;
    /// 医療機関名称.
    facility_name = 6;
    /// 請求年月 (YYYYMM, or GYYMM in older files).
    billing_month = 7;
    /// マルチボリューム識別.
    volume = 8;
    /// 電話番号.
    phone = 9;
});

impl Ir<'_> {
    /// The 10-digit 医療機関コード: prefecture (2) + point table (1) + code (7).
    pub fn facility_code10(&self) -> String {
        format!("{}{}{}", self.prefecture(), self.point_table(), self.facility_code())
    }
}

/// RE: レセプト共通 (claim header and patient).
#[derive(Debug, Clone, Copy)]
pub struct Re<'a>(&'a Record);
accessors!(Re {
    /// レセプト番号 (claim number in the file).
    receipt_no = 1;
    /// レセプト種別 (4 digits: care setting, insurance, age band).
    receipt_type = 2;
    /// 診療年月 (YYYYMM).
    care_month = 3;
    /// 氏名.
    name = 4;
    /// 男女区分 (1 = male, 2 = female).
    sex = 5;
    /// 生年月日 (YYYYMMDD).
    birth_date = 6;
    /// 給付割合.
    benefit_rate = 7;
    /// 入院年月日.
    admission_date = 8;
    /// 病棟区分.
    ward = 9;
    /// 一部負担金区分.
    copay_class = 10;
    /// レセプト特記事項.
    special_notes = 11;
    /// 病床数.
    beds = 12;
    /// カルテ番号等.
    chart_no = 13;
    /// 割引点数単価.
    discount = 14;
    /// 検索番号.
    search_no = 18;
    /// 請求情報.
    billing_info = 20;
    /// 診療科1.
    department1 = 21;
    /// カナ氏名.
    kana_name = 36;
    /// 患者の状態.
    patient_state = 37;
});

/// HO: 保険者 (insurer).
#[derive(Debug, Clone, Copy)]
pub struct Ho<'a>(&'a Record);
accessors!(Ho {
    /// 保険者番号.
    insurer_no = 1;
    /// 被保険者証等の記号.
    card_symbol = 2;
    /// 被保険者証等の番号.
    card_number = 3;
    /// 診療実日数.
    days = 4;
    /// 合計点数.
    points = 5;
    /// 食事療養・生活療養 回数.
    meal_count = 7;
    /// 食事療養・生活療養 合計金額.
    meal_amount = 8;
    /// 職務上の事由.
    occupational = 9;
    /// 証明書番号.
    certificate_no = 10;
    /// 負担金額 医療保険.
    copay = 11;
    /// 枝番 (card branch number), in the 2021+ layout.
    branch_no = 14;
});

/// KO: 公費 (public payer).
#[derive(Debug, Clone, Copy)]
pub struct Ko<'a>(&'a Record);
accessors!(Ko {
    /// 公費負担者番号.
    payer_no = 1;
    /// 公費受給者番号.
    recipient_no = 2;
    /// 任意給付区分.
    optional_benefit = 3;
    /// 診療実日数.
    days = 4;
    /// 合計点数.
    points = 5;
    /// 負担金額.
    copay = 6;
});

/// SY: 傷病名 (diagnosis).
#[derive(Debug, Clone, Copy)]
pub struct Sy<'a>(&'a Record);
accessors!(Sy {
    /// 傷病名コード (7 digits; `0000999` = uncoded, name in [`Sy::name`]).
    code = 1;
    /// 診療開始日 (YYYYMMDD).
    start_date = 2;
    /// 転帰区分 (1 = continuing, 2 = cured, 3 = died, 4 = stopped).
    outcome = 3;
    /// 修飾語コード (4-digit codes concatenated).
    modifiers = 4;
    /// 傷病名称 (free text for uncoded diagnoses).
    name = 5;
    /// 主傷病 (`01` = main diagnosis).
    main = 6;
    /// 補足コメント.
    comment = 7;
});

impl Sy<'_> {
    /// True for 未コード化傷病名 (code 0000999).
    pub fn is_uncoded(&self) -> bool {
        self.code() == "0000999"
    }

    /// The 4-digit modifier codes.
    pub fn modifier_codes(&self) -> Vec<&str> {
        let m = self.modifiers();
        (0..m.len() / 4).filter_map(|i| m.get(i * 4..i * 4 + 4)).collect()
    }
}

/// CO: コメント (comment).
#[derive(Debug, Clone, Copy)]
pub struct Co<'a>(&'a Record);
accessors!(Co {
    /// 診療識別.
    care_category = 1;
    /// 負担区分.
    burden = 2;
    /// コメントコード (9 digits).
    code = 3;
    /// 文字データ.
    text = 4;
});

/// GO: 合計 (file total).
#[derive(Debug, Clone, Copy)]
pub struct Go<'a>(&'a Record);
accessors!(Go {
    /// 総件数 (number of claims).
    claim_count = 1;
    /// 総合計点数.
    total_points = 2;
    /// マルチボリューム識別.
    volume = 3;
});

/// SI / IY / TO: one billed line (procedure, drug or material).
#[derive(Debug, Clone, Copy)]
pub struct Line<'a>(&'a Record);
accessors!(Line {
    /// 診療識別 (care category, e.g. 11 初診, 21 内服); may be empty when it continues the previous line.
    care_category = 1;
    /// 負担区分.
    burden = 2;
    /// レセ電コード (9 digits: 診療行為, 医薬品 or 特定器材).
    code = 3;
    /// 数量データ / 使用量 (quantity).
    quantity = 4;
    /// 点数 (points).
    points = 5;
    /// 回数 (count).
    count = 6;
});

impl Line<'_> {
    /// The comment code/text pairs (SI and IY: fields 7–12); empty pairs skipped.
    pub fn comments(&self) -> Vec<(&str, &str)> {
        if self.0.kind() == RecordKind::To {
            return Vec::new();
        }
        (0..3)
            .map(|k| (self.0.field(7 + 2 * k), self.0.field(8 + 2 * k)))
            .filter(|(c, t)| !c.is_empty() || !t.is_empty())
            .collect()
    }

    /// 算定日情報: the count billed on each day 1–31 (the record's last 31
    /// fields), as `(day, count text)` for days with an entry.
    pub fn days(&self) -> Vec<(u32, &str)> {
        let f = &self.0.fields;
        if f.len() < 38 {
            return Vec::new();
        }
        let start = f.len() - 31;
        (0..31u32)
            .filter_map(|d| {
                let v = f[start + d as usize].as_str();
                (!v.is_empty()).then_some((d + 1, v))
            })
            .collect()
    }

    /// 商品名及び規格 (TO only; field 10 in the 医科 layout).
    pub fn product_name(&self) -> &str {
        if self.0.kind() == RecordKind::To { self.0.field(10) } else { "" }
    }
}
