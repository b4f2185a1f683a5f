/**
 * `new Date(t).toISOString()` for the verified reading's `time` field, written without a Date:
 * V8 formats an ISO date through a general printf-style formatter, which cost more than the
 * rest of the verified reading's JSON (callgrind: about 6,700 instructions a reading). The calendar date is
 * kept for the last day seen (readings arrive in time order, roughly), the time of day is
 * arithmetic. Same output as toISOString for 0 <= t < year 10000 (test/gateway/
 * pipeline-fast-paths.test.ts); anything else goes to toISOString itself.
 */

const DAY_MS = 86_400_000;
/** 9999-12-31T23:59:59.999Z: above it toISOString writes a six-digit, signed year. */
const MAX_FOUR_DIGIT_YEAR_MS = 253_402_300_799_999;

let cachedDay = -1;
let cachedPrefix = '';

const pad2 = (n: number): string => (n < 10 ? `0${n}` : `${n}`);

/** `YYYY-MM-DDT` of a day number since 1970-01-01 (proleptic Gregorian; H. Hinnant's civil_from_days). */
function datePrefix(days: number): string {
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365,
  );
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  return `${String(year).padStart(4, '0')}-${pad2(month)}-${pad2(day)}T`;
}

export function isoTime(t: number): string {
  if (!Number.isSafeInteger(t) || t < 0 || t > MAX_FOUR_DIGIT_YEAR_MS) return new Date(t).toISOString();
  const days = Math.floor(t / DAY_MS);
  if (days !== cachedDay) {
    cachedPrefix = datePrefix(days);
    cachedDay = days;
  }
  let rest = t - days * DAY_MS;
  const ms = rest % 1000;
  rest = (rest - ms) / 1000;
  const seconds = rest % 60;
  rest = (rest - seconds) / 60;
  const minutes = rest % 60;
  const hours = (rest - minutes) / 60;
  const msText = ms < 10 ? `00${ms}` : ms < 100 ? `0${ms}` : `${ms}`;
  return `${cachedPrefix}${pad2(hours)}:${pad2(minutes)}:${pad2(seconds)}.${msText}Z`;
}
