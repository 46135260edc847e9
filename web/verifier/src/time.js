// Date-times as Python's datetime.fromisoformat (3.11) reads the ISO 8601 strings the format
// allows (YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)): the same range checks (years 1..9999,
// real calendar days, hours 0..23, seconds 0..59, offsets strictly within ±24 h) and the same
// microsecond precision (longer fractions truncated). Instants are BigInt microseconds.

const SHAPE = /^([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]+))?(Z|[+-][0-9]{2}:[0-9]{2})$/;

function daysInMonth(y, m) {
  if (m === 2) return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0 ? 29 : 28;
  return [31, 0, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1];
}

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
function daysFromCivil(y, m, d) {
  y -= m <= 2 ? 1 : 0;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

/** {y, mo, d, h, mi, s, us, offset (seconds)} or {error}. */
export function parseIsoDateTime(text) {
  const m = typeof text === "string" ? SHAPE.exec(text) : null;
  if (!m) return { error: `Invalid isoformat string: ${JSON.stringify(text)}` };
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number);
  const us = m[7] ? Number((m[7] + "00000").slice(0, 6)) : 0;
  if (y < 1) return { error: `year ${y} is out of range` };
  if (mo < 1 || mo > 12) return { error: "month must be in 1..12" };
  if (d < 1 || d > daysInMonth(y, mo)) return { error: "day is out of range for month" };
  if (h > 23) return { error: "hour must be in 0..23" };
  if (mi > 59) return { error: "minute must be in 0..59" };
  if (s > 59) return { error: "second must be in 0..59" };
  let offset = 0;
  if (m[8] !== "Z") {
    const sign = m[8][0] === "-" ? -1 : 1;
    offset = sign * (Number(m[8].slice(1, 3)) * 3600 + Number(m[8].slice(4, 6)) * 60);
    if (Math.abs(offset) >= 86400) {
      return { error: "offset must be a timedelta strictly between -timedelta(hours=24) and timedelta(hours=24)" };
    }
  }
  return { y, mo, d, h, mi, s, us, offset };
}

/** Whole UTC seconds since the epoch (BigInt). */
export function toUtcSeconds(t) {
  const days = BigInt(daysFromCivil(t.y, t.mo, t.d));
  return days * 86400n + BigInt(t.h * 3600 + t.mi * 60 + t.s - t.offset);
}

/** UTC microseconds since the epoch (BigInt). */
export function toMicros(t) {
  return toUtcSeconds(t) * 1000000n + BigInt(t.us);
}

/** Python's _parse_time of the verifier: the instant, or null when not a date-time. */
export function parseTime(value) {
  if (typeof value !== "string") return null;
  const t = parseIsoDateTime(value);
  return t.error ? null : toMicros(t);
}

/** ``datetime.fromtimestamp(s, UTC).isoformat(timespec="seconds")`` with Z: 2025-01-31T12:00:00Z. */
export function isoZ(seconds) {
  const date = new Date(Number(seconds) * 1000);
  return date.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** The `now` option (Date, ISO string, or milliseconds) -> {micros, iso} (iso as Python prints it). */
export function clock(now) {
  let micros;
  let offset = 0;
  if (now === undefined || now === null) {
    micros = BigInt(Date.now()) * 1000n;
  } else if (now instanceof Date) {
    micros = BigInt(now.getTime()) * 1000n;
  } else if (typeof now === "number") {
    micros = BigInt(Math.round(now)) * 1000n;
  } else if (typeof now === "string") {
    const t = parseIsoDateTime(now.replace(/\+00:00$/, "Z"));
    if (t.error) throw new TypeError(`now: not an ISO 8601 date-time: ${now}`);
    micros = toMicros(t);
    offset = t.offset;
  } else {
    throw new TypeError("now: expected a Date, an ISO 8601 string or milliseconds");
  }
  // isoformat(timespec="seconds") in the clock's own offset ("+00:00" for UTC).
  const local = micros / 1000000n + BigInt(offset);
  const base = new Date(Number(local) * 1000).toISOString().slice(0, 19);
  const sign = offset < 0 ? "-" : "+";
  const a = Math.abs(offset);
  const hh = String(Math.floor(a / 3600)).padStart(2, "0");
  const mm = String(Math.floor((a % 3600) / 60)).padStart(2, "0");
  return { micros, iso: `${base}${sign}${hh}:${mm}` };
}
