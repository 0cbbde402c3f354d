-- In-hospital and 30-day mortality of heart-failure admissions by NYHA class at admission.
-- One row per admission that carries a NYHA class (the hf_admissions view keeps only those).
-- In-hospital death: discharge disposition `exp`. 30-day death: Patient.deceasedDateTime
-- within 30 days of the admission date (in hospital or after discharge).
SELECT h.encounter_id, h.patient_id, h.hf_type,
       CASE h.nyha_snomed WHEN '420300004' THEN 'I' WHEN '421704003' THEN 'II'
                          WHEN '420913000' THEN 'III' WHEN '422293003' THEN 'IV' END AS nyha,
       CASE WHEN h.discharge_disposition = 'exp' THEN 1 ELSE 0 END AS died_in_hospital,
       CASE WHEN p.deceased_date IS NOT NULL
             AND CAST(to_unixtime(p.deceased_date) / 86400 AS BIGINT) - CAST(to_unixtime(h.start) / 86400 AS BIGINT) <= 30
            THEN 1 ELSE 0 END AS died_30d
FROM hf_admissions h JOIN patients p ON p.patient_id = h.patient_id
WHERE h.class = 'IMP' AND h.nyha_snomed IS NOT NULL
ORDER BY h.encounter_id
