-- The CLIDAS statin analysis after PCI: one row per patient.
--
-- Index: discharge from the first PCI admission in the data (SNOMED CT 415070008)
-- at which a statin (YJ 薬効分類 2189) was prescribed. Exposure: high intensity
-- (daily atorvastatin >= 20 mg, rosuvastatin >= 10 mg, pitavastatin >= 4 mg)
-- versus moderate (anything lower). Confounders at the index admission.
-- Follow-up ends at the first of: the outcome, 5 years (1827 days: 5 × 365.25 rounded up, so that people followed for the whole 5 years are still at risk at year 5), death,
-- leaving the data set (Patient.active = false: the last recorded encounter),
-- the end of the data (the last encounter start in the data set).
-- Dates are compared as day numbers: to_unixtime(date) / 86400.
WITH
enc AS (
  SELECT encounter_id, patient_id, start, "end",
         CAST(to_unixtime(start) / 86400 AS BIGINT) AS start_day,
         CAST(to_unixtime("end") / 86400 AS BIGINT) AS end_day
  FROM encounter_periods
),
data_end AS (SELECT max(start_day) AS day FROM enc),
last_seen AS (SELECT patient_id, max(end_day) AS day FROM enc GROUP BY patient_id),
pci AS (
  SELECT p.patient_id, p.encounter_id, e.start, e.start_day, e.end_day,
         row_number() OVER (PARTITION BY p.patient_id ORDER BY e.start_day, p.procedure_id) AS k
  FROM procedures p JOIN enc e ON e.encounter_id = p.encounter_id
  WHERE p.snomed = '415070008'
),
statin AS (
  SELECT encounter_id,
         max(CASE
               WHEN substr(yj_code, 1, 7) = '2189015' AND daily_mg >= 20 THEN 1
               WHEN substr(yj_code, 1, 7) = '2189017' AND daily_mg >= 10 THEN 1
               WHEN substr(yj_code, 1, 7) = '2189016' AND daily_mg >= 4 THEN 1
               ELSE 0 END) AS high_intensity
  FROM (
    SELECT encounter_id, yj_code,
           dose_per_time * times_per_day * CASE yj_code
             WHEN '2189015F1022' THEN 5 WHEN '2189015F2020' THEN 10
             WHEN '2189017F1020' THEN 2.5 WHEN '2189017F2026' THEN 5
             WHEN '2189016F1020' THEN 1 WHEN '2189016F2020' THEN 2 WHEN '2189016F3026' THEN 4
           END AS daily_mg
    FROM prescriptions WHERE drug_class = '2189'
  ) s
  GROUP BY encounter_id
),
cohort AS (
  SELECT c.patient_id, c.encounter_id, c.start, c.start_day, c.end_day AS index_day, s.high_intensity
  FROM pci c JOIN statin s ON s.encounter_id = c.encounter_id
  WHERE c.k = 1
),
cond AS (
  SELECT patient_id, encounter_id, icd10, CAST(to_unixtime(onset) / 86400 AS BIGINT) AS day FROM conditions
),
flags AS (
  SELECT k.patient_id,
    max(CASE WHEN c.icd10 = 'E785' AND c.day <= k.start_day THEN 1 ELSE 0 END) AS dyslipidemia,
    max(CASE WHEN c.icd10 = 'E119' AND c.day <= k.start_day THEN 1 ELSE 0 END) AS diabetes,
    max(CASE WHEN c.icd10 = 'I10' AND c.day <= k.start_day THEN 1 ELSE 0 END) AS hypertension,
    max(CASE WHEN c.icd10 = 'Z955' AND c.day < k.start_day THEN 1 ELSE 0 END) AS prior_pci,
    max(CASE WHEN c.icd10 = 'Z951' AND c.day < k.start_day THEN 1 ELSE 0 END) AS prior_cabg,
    max(CASE WHEN c.icd10 IN ('I639', 'I693') AND c.day < k.start_day THEN 1 ELSE 0 END) AS prior_stroke,
    max(CASE WHEN c.icd10 = 'N183' AND c.day <= k.start_day THEN 1 ELSE 0 END) AS ckd3,
    max(CASE WHEN c.icd10 = 'I219' AND c.encounter_id = k.encounter_id THEN 1 ELSE 0 END) AS acs,
    min(CASE WHEN c.icd10 = 'I219' AND c.day >= k.index_day AND c.encounter_id <> k.encounter_id THEN c.day END) AS mi_day,
    min(CASE WHEN c.icd10 = 'I639' AND c.day >= k.index_day THEN c.day END) AS stroke_day
  FROM cohort k LEFT JOIN cond c ON c.patient_id = k.patient_id
  GROUP BY k.patient_id
),
x AS (
  SELECT k.patient_id, k.high_intensity, k.index_day,
    CAST(substr(k.start, 1, 4) AS INT) - CAST(substr(p.birth_date, 1, 4) AS INT)
      - CASE WHEN substr(k.start, 6, 5) < substr(p.birth_date, 6, 5) THEN 1 ELSE 0 END AS age,
    CASE WHEN p.sex = 'female' THEN 1 ELSE 0 END AS female,
    f.dyslipidemia, f.diabetes, f.hypertension, f.prior_pci, f.prior_cabg, f.prior_stroke, f.ckd3, f.acs,
    CAST(substr(k.start, 1, 4) AS INT) - 2013 AS years_since_2013,
    f.mi_day, f.stroke_day,
    least(
      k.index_day + 1827,
      d.day,
      coalesce(CAST(to_unixtime(p.deceased_date) / 86400 AS BIGINT),
               CASE WHEN p.active = false THEN l.day END,
               k.index_day + 1827)
    ) AS end_day
  FROM cohort k
    JOIN patients p ON p.patient_id = k.patient_id
    JOIN flags f ON f.patient_id = k.patient_id
    LEFT JOIN last_seen l ON l.patient_id = k.patient_id
    CROSS JOIN data_end d
)
SELECT patient_id, high_intensity, age, female, dyslipidemia, diabetes, hypertension,
       prior_pci, prior_cabg, prior_stroke, ckd3, acs, years_since_2013,
       CASE WHEN mi_day IS NOT NULL AND mi_day <= end_day THEN mi_day ELSE end_day END - index_day AS mi_days,
       CASE WHEN mi_day IS NOT NULL AND mi_day <= end_day THEN 1 ELSE 0 END AS mi,
       CASE WHEN stroke_day IS NOT NULL AND stroke_day <= end_day THEN stroke_day ELSE end_day END - index_day AS stroke_days,
       CASE WHEN stroke_day IS NOT NULL AND stroke_day <= end_day THEN 1 ELSE 0 END AS stroke
FROM x
WHERE end_day >= index_day
ORDER BY patient_id
