//! Clinical case reports in Japanese prose (主訴, 現病歴, 検査所見, 経過), each
//! written from one row of a disease–findings table: symptoms and signs that are
//! present, laboratory abnormalities with the ranges values are drawn from, and
//! findings that are explicitly absent (rendered 「腹痛なし」). The same table is
//! written to truth.json so that text-mining results can be scored.
//!
//! The rows summarise textbook presentations (typical symptoms, physical signs,
//! laboratory patterns, imaging and first-line treatment as in Japanese clinical
//! guidelines and the 内科学 / 今日の治療指針 level of detail); they are meant to
//! be clinically plausible, not exhaustive.

use crate::codes::{lab, LABS};
use crate::facility::{dept, Dept};
use crate::rng::Rng;
use serde::Serialize;

/// One row of the disease–findings table.
#[derive(Debug, Clone, Serialize)]
pub struct Disease {
    /// Key.
    pub key: &'static str,
    /// Disease name (標準病名).
    pub name: &'static str,
    /// ICD-10 code.
    pub icd10: &'static str,
    /// Department.
    #[serde(skip)]
    pub dept: Dept,
    /// Relative frequency among "other acute" admissions (0: driven by the population model).
    pub weight: f64,
    /// Length of stay range (days).
    pub los: (i32, i32),
    /// In-hospital death probability at age 75.
    pub fatality_at_75: f64,
    /// 主訴.
    pub chief: &'static str,
    /// How the illness began (現病歴 opening).
    pub onset: &'static str,
    /// Symptoms present.
    pub symptoms: &'static [&'static str],
    /// Physical signs present.
    pub signs: &'static [&'static str],
    /// Laboratory abnormalities: (lab key, low, high) of the drawn value.
    pub labs: &'static [(&'static str, f64, f64)],
    /// Findings explicitly absent.
    pub negatives: &'static [&'static str],
    /// Imaging or other test findings.
    pub imaging: &'static str,
    /// Treatment.
    pub treatment: &'static str,
    /// Whether the patient is female-only (none here) or any sex.
    #[serde(skip)]
    pub min_age: i32,
}

macro_rules! d {
    ($key:expr, $name:expr, $icd:expr, $dept:expr, $w:expr, $los:expr, $fat:expr, $min_age:expr,
     $chief:expr, $onset:expr, [$($sy:expr),*], [$($si:expr),*], [$($lb:expr),*], [$($ng:expr),*], $img:expr, $tx:expr) => {
        Disease { key: $key, name: $name, icd10: $icd, dept: $dept, weight: $w, los: $los, fatality_at_75: $fat,
            chief: $chief, onset: $onset, symptoms: &[$($sy),*], signs: &[$($si),*], labs: &[$($lb),*],
            negatives: &[$($ng),*], imaging: $img, treatment: $tx, min_age: $min_age }
    };
}

/// The disease–findings table (36 diagnoses).
pub const DISEASES: &[Disease] = &[
    d!("acs", "急性心筋梗塞", "I219", dept::CARDIO, 0.0, (8, 16), 0.07, 30,
       "胸痛", "本日早朝、安静時に突然", ["前胸部の絞扼感", "冷汗", "左肩への放散痛"], ["血圧低下傾向", "III音なし"],
       [("tnt", 0.1, 5.0), ("ck", 300.0, 3000.0), ("wbc", 9.0, 14.0)], ["呼吸困難", "発熱", "腹痛"],
       "心電図でII・III・aVFまたはV1-V4誘導のST上昇、心エコーで局所壁運動低下", "緊急冠動脈造影を行い責任病変に経皮的冠動脈インターベンションを施行した"),
    d!("ccs", "安定狭心症", "I209", dept::CARDIO, 0.0, (2, 4), 0.002, 35,
       "労作時胸部圧迫感", "3か月前から階段昇降時に", ["労作時の前胸部圧迫感", "数分の安静で軽快"], ["心雑音なし"],
       [("ldl", 140.0, 190.0)], ["安静時胸痛", "失神", "下腿浮腫"],
       "運動負荷心電図でST低下、冠動脈CTで左前下行枝の有意狭窄", "待機的に冠動脈造影と経皮的冠動脈インターベンションを施行した"),
    d!("stroke", "脳梗塞", "I639", dept::NEUROSURGERY, 0.0, (14, 35), 0.07, 30,
       "右片麻痺", "起床時に", ["右上下肢の脱力", "構音障害"], ["右片麻痺(MMT 3/5)", "右顔面神経麻痺"],
       [("glu", 110.0, 180.0)], ["頭痛", "意識消失", "けいれん"],
       "頭部MRI拡散強調像で左中大脳動脈領域に高信号、頭部CTで出血なし", "抗血小板療法とリハビリテーションを行った"),
    d!("hf", "うっ血性心不全", "I500", dept::CARDIO, 0.0, (10, 28), 0.05, 40,
       "呼吸困難", "1週間前から", ["労作時息切れ", "起座呼吸", "下腿浮腫", "体重増加"], ["両側肺野の湿性ラ音", "頸静脈怒張", "両下腿の圧痕性浮腫"],
       [("bnp", 400.0, 2500.0), ("bun", 22.0, 45.0), ("cre", 1.1, 2.2)], ["胸痛", "発熱"],
       "胸部X線で心拡大(CTR 60%)と両側胸水、心エコーで左室駆出率低下", "フロセミド静注と酸素投与を行い、β遮断薬とACE阻害薬を導入した"),
    d!("pneumonia", "肺炎", "J189", dept::RESPIRATORY, 0.0, (7, 18), 0.05, 0,
       "発熱、咳嗽", "3日前から", ["発熱", "湿性咳嗽", "膿性痰", "倦怠感"], ["右下肺野の水泡音", "SpO2低下"],
       [("wbc", 11.0, 20.0), ("crp", 5.0, 25.0)], ["胸痛", "下痢", "意識障害"],
       "胸部X線で右下肺野に浸潤影", "セフトリアキソン点滴静注を行い、解熱後に内服抗菌薬へ切り替えた"),
    d!("gastric_cancer", "胃癌", "C169", dept::GASTRO, 0.0, (10, 20), 0.01, 30,
       "心窩部不快感", "2か月前から", ["心窩部不快感", "食欲低下", "体重減少"], ["心窩部に軽度圧痛", "眼瞼結膜やや蒼白"],
       [("hb", 8.5, 11.0)], ["吐血", "黒色便", "黄疸"],
       "上部消化管内視鏡で胃体部に潰瘍を伴う隆起性病変、生検で腺癌", "幽門側胃切除術を施行した"),
    d!("appendicitis", "急性虫垂炎", "K358", dept::SURGERY, 5.0, (3, 7), 0.001, 5,
       "腹痛", "昨日夕方から心窩部痛が出現し、その後", ["右下腹部痛への移動", "悪心", "食欲不振"], ["McBurney点の圧痛", "反跳痛"],
       [("wbc", 11.0, 18.0), ("crp", 1.0, 8.0)], ["下痢", "血便", "排尿時痛"],
       "腹部CTで虫垂の腫大(径12 mm)と周囲脂肪織濃度上昇", "腹腔鏡下虫垂切除術を施行した"),
    d!("cholecystitis", "急性胆嚢炎", "K810", dept::SURGERY, 4.0, (5, 12), 0.01, 20,
       "右季肋部痛", "脂っこい食事の後から", ["右季肋部痛", "発熱", "悪心"], ["Murphy徴候陽性", "右季肋部圧痛"],
       [("wbc", 11.0, 18.0), ("crp", 3.0, 15.0), ("alp", 120.0, 300.0)], ["黄疸", "下痢", "背部痛"],
       "腹部超音波で胆嚢腫大、壁肥厚、胆嚢頸部の結石", "抗菌薬投与の後、腹腔鏡下胆嚢摘出術を施行した"),
    d!("cholangitis", "総胆管結石性胆管炎", "K803", dept::GASTRO, 3.0, (7, 14), 0.03, 30,
       "発熱、黄疸", "2日前から", ["悪寒戦慄を伴う発熱", "右季肋部痛", "黄疸"], ["眼球結膜黄染", "右季肋部圧痛"],
       [("tbil", 2.5, 8.0), ("alp", 300.0, 900.0), ("ggt", 150.0, 600.0), ("ast", 80.0, 400.0), ("alt", 80.0, 400.0), ("crp", 3.0, 15.0)], ["下痢", "血便"],
       "腹部CTで総胆管拡張と総胆管結石", "内視鏡的逆行性胆管ドレナージと結石除去術を施行した"),
    d!("pancreatitis", "急性膵炎", "K859", dept::GASTRO, 2.5, (7, 21), 0.02, 20,
       "上腹部痛", "飲酒後から", ["持続する上腹部痛", "背部への放散痛", "嘔吐"], ["心窩部圧痛", "腸蠕動音減弱"],
       [("amy", 400.0, 2500.0), ("wbc", 11.0, 18.0), ("crp", 2.0, 20.0)], ["黄疸", "下痢"],
       "造影CTで膵腫大と膵周囲の液体貯留", "大量輸液、絶食、疼痛管理を行った"),
    d!("pyelonephritis", "急性腎盂腎炎", "N10", dept::UROLOGY, 4.0, (5, 10), 0.005, 15,
       "発熱、腰背部痛", "2日前から", ["悪寒を伴う発熱", "左腰背部痛", "頻尿"], ["左肋骨脊柱角叩打痛"],
       [("wbc", 11.0, 19.0), ("crp", 5.0, 20.0)], ["腹痛", "咳嗽", "下痢"],
       "尿検査で膿尿と細菌尿、腹部CTで水腎症なし", "セフトリアキソン点滴静注を行った"),
    d!("ureteral_stone", "尿管結石症", "N201", dept::UROLOGY, 3.0, (1, 3), 0.0, 20,
       "右側腹部痛", "夜間突然", ["右側腹部の疝痛", "悪心", "肉眼的血尿"], ["右肋骨脊柱角叩打痛"],
       [("wbc", 9.0, 12.0)], ["発熱", "下痢"],
       "腹部CTで右尿管下端に5 mmの結石と軽度水腎症", "鎮痛薬投与と飲水指導で自然排石を待った"),
    d!("cellulitis", "蜂窩織炎", "L031", dept::INTERNAL, 3.0, (5, 12), 0.005, 20,
       "右下腿の発赤、腫脹", "3日前から", ["右下腿の疼痛", "発熱"], ["右下腿の境界不明瞭な発赤", "熱感", "圧痛"],
       [("wbc", 10.0, 16.0), ("crp", 3.0, 15.0)], ["水疱", "握雪感", "咳嗽"],
       "下肢超音波で深部静脈血栓なし", "セファゾリン点滴静注と患肢挙上を行った"),
    d!("hip_fracture", "大腿骨頸部骨折", "S720", dept::ORTHO, 4.0, (14, 35), 0.02, 60,
       "転倒後の左股関節痛", "自宅で転倒し", ["左股関節痛", "歩行不能"], ["左下肢の短縮と外旋位", "左鼠径部の圧痛"],
       [("hb", 9.5, 11.5)], ["意識消失", "頭痛", "胸痛"],
       "股関節X線で左大腿骨頸部骨折(Garden分類III)", "人工骨頭置換術を施行し、術翌日からリハビリテーションを開始した"),
    d!("ileus", "癒着性腸閉塞", "K566", dept::SURGERY, 2.5, (5, 14), 0.02, 30,
       "腹部膨満、嘔吐", "昨日から", ["腹部膨満", "嘔吐", "排便・排ガスの停止"], ["腹部膨隆", "金属音"],
       [("wbc", 9.0, 14.0), ("bun", 22.0, 40.0)], ["発熱", "血便"],
       "腹部CTで小腸の拡張と鏡面像、閉塞部位に腫瘤なし", "絶食とイレウス管による減圧を行った"),
    d!("diverticular_bleeding", "大腸憩室出血", "K573", dept::GASTRO, 2.5, (5, 10), 0.01, 40,
       "血便", "本日朝から", ["無痛性の鮮血便", "ふらつき"], ["頻脈", "眼瞼結膜蒼白"],
       [("hb", 7.0, 10.0), ("bun", 20.0, 35.0)], ["腹痛", "発熱", "吐血"],
       "造影CTで上行結腸憩室に造影剤の血管外漏出、下部内視鏡で出血憩室を同定", "内視鏡的止血術を施行した"),
    d!("gastric_ulcer_bleeding", "出血性胃潰瘍", "K254", dept::GASTRO, 2.5, (7, 12), 0.02, 30,
       "吐血", "数日前から黒色便があり、本日", ["コーヒー残渣様の吐血", "黒色便", "ふらつき"], ["頻脈", "眼瞼結膜蒼白"],
       [("hb", 6.5, 10.0), ("bun", 25.0, 50.0)], ["腹膜刺激徴候", "発熱"],
       "上部消化管内視鏡で胃角部に露出血管を伴う潰瘍", "内視鏡的止血術とプロトンポンプ阻害薬の静注を行った"),
    d!("copd_exacerbation", "慢性閉塞性肺疾患の急性増悪", "J441", dept::RESPIRATORY, 2.5, (10, 21), 0.04, 50,
       "呼吸困難の増悪", "感冒症状に続いて3日前から", ["呼吸困難", "喀痰増加", "喘鳴"], ["呼気延長", "wheezes", "SpO2低下"],
       [("wbc", 9.0, 14.0), ("crp", 1.0, 8.0)], ["胸痛", "下腿浮腫"],
       "胸部X線で肺過膨張、浸潤影なし", "短時間作用性気管支拡張薬の吸入、全身性ステロイド、抗菌薬を投与した"),
    d!("asthma_attack", "気管支喘息発作", "J459", dept::RESPIRATORY, 2.0, (3, 7), 0.002, 5,
       "喘鳴、呼吸困難", "昨夜から", ["喘鳴", "呼吸困難", "乾性咳嗽"], ["両側肺野のwheezes", "呼気延長"],
       [("wbc", 9.0, 12.0)], ["発熱", "胸痛", "膿性痰"],
       "胸部X線で気胸なし", "β2刺激薬の吸入とステロイド点滴を行った"),
    d!("af", "心房細動", "I489", dept::CARDIO, 2.5, (3, 7), 0.005, 40,
       "動悸", "本日昼から突然", ["動悸", "息切れ"], ["脈拍不整(130/分)"],
       [("bnp", 80.0, 300.0)], ["胸痛", "失神", "片麻痺"],
       "心電図で心房細動、心エコーで左房拡大、血栓なし", "β遮断薬で心拍数を調節し、直接経口抗凝固薬を開始した"),
    d!("pulmonary_embolism", "肺血栓塞栓症", "I269", dept::CARDIO, 1.0, (7, 14), 0.05, 20,
       "呼吸困難", "本日突然", ["呼吸困難", "胸膜痛"], ["頻呼吸", "頻脈", "SpO2低下"],
       [("ddimer", 5.0, 30.0), ("tnt", 0.02, 0.1)], ["発熱", "咳嗽", "喀血"],
       "造影CTで両側肺動脈内に造影欠損、下肢静脈超音波でヒラメ静脈血栓", "ヘパリン持続静注の後、直接経口抗凝固薬に切り替えた"),
    d!("dvt", "深部静脈血栓症", "I802", dept::CARDIO, 1.0, (3, 7), 0.002, 20,
       "左下肢の腫脹", "1週間前から", ["左下肢の腫脹", "下肢痛"], ["左下腿の圧痕性浮腫", "Homans徴候陽性"],
       [("ddimer", 3.0, 20.0)], ["呼吸困難", "胸痛", "発赤"],
       "下肢静脈超音波で左大腿静脈から膝窩静脈の血栓", "直接経口抗凝固薬を開始した"),
    d!("ich", "脳出血", "I619", dept::NEUROSURGERY, 2.0, (20, 40), 0.15, 40,
       "頭痛、左片麻痺", "夕食中に突然", ["頭痛", "左上下肢の脱力", "嘔吐"], ["左片麻痺", "血圧上昇(190/100 mmHg)"],
       [("glu", 120.0, 200.0)], ["発熱", "胸痛"],
       "頭部CTで右被殻に高吸収域(血腫量約20 mL)", "降圧療法と脳浮腫治療を行い、リハビリテーションを開始した"),
    d!("sah", "くも膜下出血", "I609", dept::NEUROSURGERY, 0.8, (21, 45), 0.25, 30,
       "突然の激しい頭痛", "入浴中に突然", ["今までで最悪の頭痛", "嘔吐"], ["項部硬直", "意識レベル低下(JCS I-3)"],
       [("wbc", 10.0, 15.0)], ["発熱", "片麻痺"],
       "頭部CTで脳底槽にびまん性の高吸収域、CTAで前交通動脈瘤", "脳動脈瘤コイル塞栓術を施行した"),
    d!("dka", "糖尿病性ケトアシドーシス", "E101", dept::INTERNAL, 0.6, (7, 14), 0.01, 10,
       "口渇、倦怠感", "1週間前から", ["口渇", "多飲多尿", "悪心", "倦怠感"], ["皮膚乾燥", "Kussmaul呼吸"],
       [("glu", 400.0, 800.0), ("hba1c", 10.0, 14.0), ("k", 5.0, 6.2), ("na", 128.0, 134.0)], ["発熱", "腹膜刺激徴候"],
       "動脈血ガスで代謝性アシドーシス、尿ケトン体強陽性", "大量輸液と持続インスリン静注を行った"),
    d!("hypoglycemia", "低血糖症", "E162", dept::INTERNAL, 1.5, (2, 5), 0.01, 50,
       "意識障害", "朝食を摂らずにスルホニル尿素薬を内服し、昼前に", ["冷汗", "意識混濁"], ["発汗", "頻脈"],
       [("glu", 25.0, 50.0)], ["発熱", "片麻痺", "けいれん"],
       "頭部CTで異常なし", "ブドウ糖静注で意識は速やかに回復し、血糖降下薬を調整した"),
    d!("aki", "急性腎障害", "N179", dept::INTERNAL, 1.5, (7, 18), 0.05, 50,
       "尿量減少", "下痢が続いた後、2日前から", ["尿量減少", "倦怠感", "食欲不振"], ["皮膚ツルゴール低下", "口腔粘膜乾燥"],
       [("cre", 2.5, 6.0), ("bun", 40.0, 100.0), ("k", 5.2, 6.5)], ["発熱", "肉眼的血尿", "浮腫"],
       "腹部超音波で両腎の萎縮なし、水腎症なし", "補液と腎毒性薬剤の中止を行った"),
    d!("herpes_zoster", "帯状疱疹", "B029", dept::INTERNAL, 1.5, (5, 8), 0.001, 50,
       "右胸部の皮疹と痛み", "5日前から痛みが先行し、2日前から", ["右胸部の帯状の痛み", "皮疹"], ["右Th5領域の紅斑と小水疱"],
       [("crp", 0.2, 1.5)], ["発熱", "髄膜刺激徴候"],
       "特記すべき画像所見なし", "アシクロビル点滴静注と鎮痛薬投与を行った"),
    d!("influenza", "インフルエンザ", "J111", dept::INTERNAL, 2.0, (3, 7), 0.01, 0,
       "発熱", "昨日から", ["高熱", "関節痛", "咽頭痛", "咳嗽"], ["咽頭発赤"],
       [("crp", 0.5, 4.0)], ["呼吸困難", "意識障害"],
       "迅速抗原検査でA型陽性、胸部X線で浸潤影なし", "抗インフルエンザ薬と補液を行った"),
    d!("covid19", "COVID-19", "U071", dept::RESPIRATORY, 2.0, (7, 14), 0.03, 0,
       "発熱、咳嗽", "4日前から", ["発熱", "乾性咳嗽", "倦怠感", "味覚障害"], ["SpO2低下"],
       [("crp", 2.0, 10.0), ("ddimer", 1.0, 3.0)], ["腹痛", "下痢"],
       "SARS-CoV-2 PCR陽性、胸部CTで両側末梢優位のすりガラス影", "酸素投与とデキサメタゾン投与を行った"),
    d!("gastroenteritis", "感染性胃腸炎", "A09", dept::INTERNAL, 2.5, (2, 5), 0.002, 0,
       "嘔吐、下痢", "生牡蠣を摂取した翌日から", ["嘔吐", "水様性下痢", "腹部不快感"], ["腸蠕動音亢進", "口腔粘膜乾燥"],
       [("bun", 21.0, 35.0), ("crp", 0.5, 4.0)], ["血便", "発熱", "腹膜刺激徴候"],
       "腹部超音波で腸管壁肥厚なし", "補液と整腸剤投与を行った"),
    d!("status_epilepticus", "てんかん重積状態", "G419", dept::NEUROSURGERY, 0.6, (5, 14), 0.03, 10,
       "けいれん", "自宅で", ["全身性強直間代けいれん", "意識消失"], ["意識障害(GCS 9)", "舌咬傷"],
       [("ck", 300.0, 2000.0), ("wbc", 9.0, 13.0)], ["発熱", "項部硬直", "片麻痺"],
       "頭部MRIで新たな病変なし、脳波でてんかん性放電", "ジアゼパム静注の後、レベチラセタムを開始した"),
    d!("subdural_hematoma", "慢性硬膜下血腫", "I620", dept::NEUROSURGERY, 1.0, (5, 12), 0.01, 60,
       "歩行障害", "2か月前に頭部を打撲し、2週間前から", ["歩行時のふらつき", "物忘れ", "頭重感"], ["左不全片麻痺"],
       [], ["発熱", "けいれん"],
       "頭部CTで右前頭頭頂部に三日月状の等～高吸収域", "穿頭血腫洗浄術を施行した"),
    d!("aspiration_pneumonia", "誤嚥性肺炎", "J690", dept::RESPIRATORY, 3.0, (10, 25), 0.08, 65,
       "発熱", "食事中のむせ込みの後から", ["発熱", "湿性咳嗽", "食欲低下"], ["右下肺野の水泡音", "SpO2低下"],
       [("wbc", 10.0, 18.0), ("crp", 5.0, 20.0), ("alb", 2.5, 3.4)], ["胸痛", "下痢"],
       "胸部CTで右下葉背側に浸潤影", "アンピシリン・スルバクタム点滴静注と嚥下評価を行った"),
    d!("sepsis_uti", "尿路感染症による敗血症", "A419", dept::INTERNAL, 1.5, (10, 21), 0.12, 60,
       "発熱、意識障害", "前日から", ["悪寒戦慄を伴う高熱", "意識混濁"], ["血圧低下(88/50 mmHg)", "頻脈", "頻呼吸"],
       [("wbc", 13.0, 25.0), ("crp", 10.0, 30.0), ("plt", 5.0, 12.0), ("cre", 1.3, 2.8)], ["咳嗽", "腹痛"],
       "尿培養と血液培養から大腸菌を検出、腹部CTで水腎症なし", "広域抗菌薬、大量輸液、ノルアドレナリン投与を行った"),
    d!("heat_stroke", "熱中症", "T670", dept::INTERNAL, 1.0, (2, 6), 0.02, 50,
       "倦怠感、意識障害", "炎天下での農作業中に", ["倦怠感", "頭痛", "嘔気"], ["体温上昇(39.5℃)", "皮膚乾燥"],
       [("ck", 300.0, 3000.0), ("cre", 1.2, 2.5), ("bun", 25.0, 45.0)], ["けいれん", "胸痛", "咳嗽"],
       "頭部CTで異常なし", "冷却と補液を行った"),
];

/// Finds a disease by key.
pub fn disease(key: &str) -> &'static Disease {
    DISEASES.iter().find(|d| d.key == key).unwrap_or(&DISEASES[0])
}

/// A drawn laboratory value for a report and for the Observation resources.
#[derive(Debug, Clone)]
pub struct LabValue {
    /// Lab key.
    pub key: &'static str,
    /// Value.
    pub value: f64,
}

/// Draws admission labs: the disease's abnormal ones plus a few normal ones.
pub fn draw_labs(d: &Disease, rng: &mut Rng) -> Vec<LabValue> {
    let mut out: Vec<LabValue> = d
        .labs
        .iter()
        .map(|(k, lo, hi)| LabValue { key: k, value: lo + (hi - lo) * rng.f64() })
        .collect();
    for k in ["wbc", "hb", "plt", "crp", "cre", "na", "k"] {
        if out.iter().all(|l| l.key != k) {
            let l = lab(k);
            let (lo, hi) = l.normal;
            out.push(LabValue { key: k, value: lo + (hi - lo) * (0.2 + 0.6 * rng.f64()) });
        }
    }
    out
}

/// The four sections of a case report.
#[derive(Debug, Clone)]
pub struct Report {
    /// 主訴.
    pub chief: String,
    /// 現病歴.
    pub history: String,
    /// 検査所見.
    pub findings: String,
    /// 経過.
    pub course: String,
}

impl Report {
    /// The report as one text.
    pub fn text(&self) -> String {
        format!("【主訴】{}\n【現病歴】{}\n【検査所見】{}\n【経過】{}\n", self.chief, self.history, self.findings, self.course)
    }
}

fn fmt_lab(key: &str, v: f64) -> String {
    let l = LABS.iter().find(|l| l.key == key).unwrap_or(&LABS[0]);
    let flag = if v > l.normal.1 { "と上昇" } else if v < l.normal.0 { "と低下" } else { "" };
    format!("{} {:.*} {}{}", l.name, l.decimals, v, l.unit, flag)
}

/// Writes a report. `death_day` is the hospital day of death, if any.
pub fn write(d: &Disease, age: i32, male: bool, labs: &[LabValue], los: i32, death_day: Option<i32>) -> Report {
    let sex = match (male, age < 16) {
        (true, true) => "男児",
        (false, true) => "女児",
        (true, false) => "男性",
        (false, false) => "女性",
    };
    let symptoms = d.symptoms.join("、");
    let negs: Vec<String> = d.negatives.iter().map(|n| format!("{n}なし")).collect();
    let history = format!(
        "{age}歳の{sex}。{}{}を自覚し、当院を受診した。{}。",
        d.onset,
        symptoms,
        negs.join("、")
    );
    let abnormal: Vec<String> = labs
        .iter()
        .filter(|l| d.labs.iter().any(|(k, _, _)| *k == l.key))
        .map(|l| fmt_lab(l.key, l.value))
        .collect();
    let findings = format!(
        "身体所見では{}を認めた。血液検査では{}。{}。",
        d.signs.join("、"),
        if abnormal.is_empty() { "明らかな異常を認めなかった".to_string() } else { format!("{}を認めた", abnormal.join("、")) },
        d.imaging
    );
    let course = match death_day {
        Some(day) => format!("{}の診断で入院し、{}が、全身状態は改善せず第{day}病日に死亡した。", d.name, d.treatment),
        None => format!("{}の診断で入院し、{}。経過は良好で第{los}病日に退院した。", d.name, d.treatment),
    };
    Report { chief: d.chief.to_string(), history, findings, course }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_has_30_plus_diagnoses_with_negations_and_known_labs() {
        assert!(DISEASES.len() >= 30);
        let mut keys = std::collections::HashSet::new();
        for d in DISEASES {
            assert!(keys.insert(d.key));
            assert!(!d.negatives.is_empty() && !d.symptoms.is_empty() && !d.signs.is_empty(), "{}", d.key);
            for (k, lo, hi) in d.labs {
                assert!(LABS.iter().any(|l| l.key == *k), "{} uses unknown lab {k}", d.key);
                let l = lab(k);
                // The drawn range is abnormal: entirely outside the reference interval.
                assert!(*lo >= l.normal.1 || *hi <= l.normal.0, "{} {k} {lo}-{hi} not abnormal", d.key);
            }
        }
    }

    #[test]
    fn report_mentions_findings_and_negations() {
        let d = disease("appendicitis");
        let mut rng = Rng::new(1, 1, 1);
        let labs = draw_labs(d, &mut rng);
        let r = write(d, 34, true, &labs, 5, None);
        let t = r.text();
        for s in ["【主訴】腹痛", "McBurney点の圧痛", "下痢なし", "白血球数", "と上昇", "第5病日に退院"] {
            assert!(t.contains(s), "missing {s} in {t}");
        }
    }
}
