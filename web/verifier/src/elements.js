// The EU micro-credential elements of an achievement, as registry/core/credential.eu_elements
// reads them: shown by the page (main.js) and counted by pathways (pathway.js: ECTS and EQF level).

const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);

/**
 * The EU micro-credential elements of an achievement JSON, format v1 (extension terms) or v2
 * (Open Badges 3.0 terms: creditsAvailable, alignment entries ext:EQFLevel, ext:ParticipationForm,
 * ext:QualityAssurance, ext:LearningOutcome, resultDescription), as
 * registry.core.credential.eu_elements reads them (null or [] when absent or hidden).
 */
export function euElements(achievement) {
  const a = isObject(achievement) ? achievement : {};
  const has = (k) => Object.prototype.hasOwnProperty.call(a, k);
  const out = {
    ects: has("workloadEcts") ? a.workloadEcts : has("creditsAvailable") ? a.creditsAvailable : null,
    eqf_level: has("eqfLevel") ? a.eqfLevel : null,
    learning_outcomes: Array.isArray(a.learningOutcomes) ? [...a.learningOutcomes] : [],
    assessment_type: has("assessmentType") ? a.assessmentType : null,
    participation_form: has("participationForm") ? a.participationForm : null,
    quality_assurance: has("qualityAssurance") ? a.qualityAssurance : null,
  };
  for (const entry of Array.isArray(a.alignment) ? a.alignment : []) {
    if (!isObject(entry)) continue;
    const kind = entry.targetType;
    if (kind === "ext:EQFLevel" && /^[0-9]+$/.test(String(entry.targetCode ?? ""))) {
      out.eqf_level = Number(entry.targetCode);
    } else if (kind === "ext:ParticipationForm") out.participation_form = entry.targetCode ?? null;
    else if (kind === "ext:QualityAssurance") out.quality_assurance = entry.targetDescription ?? null;
    else if (kind === "ext:LearningOutcome" && typeof entry.targetName === "string") {
      out.learning_outcomes.push(entry.targetName);
    }
  }
  const described = a.resultDescription;
  if (out.assessment_type === null && Array.isArray(described) && described.length && isObject(described[0])) {
    out.assessment_type = described[0].name ?? null;
  }
  return out;
}
