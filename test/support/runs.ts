/**
 * Property-test sizes. `npm test` runs a short version of every property; a long run sets
 * MEDGATE_PROPERTY_SCALE (for example 50) to multiply every count without editing tests.
 */
const scale = Number(process.env.MEDGATE_PROPERTY_SCALE ?? '1');

export function propertyRuns(short: number): number {
  return Number.isFinite(scale) && scale > 0 ? Math.max(1, Math.round(short * scale)) : short;
}
