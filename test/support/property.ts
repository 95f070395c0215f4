/**
 * Property tests are seeded so a failure reproduces: the seed is printed by fast-check on failure
 * and can be set with LIFELINE_SEED. LIFELINE_PROPERTY_RUNS raises or lowers the run count.
 */
export function propertySeed(): number {
  return Number(process.env.LIFELINE_SEED ?? 20261124);
}

export function propertyRuns(defaultRuns: number): number {
  return Number(process.env.LIFELINE_PROPERTY_RUNS ?? defaultRuns);
}
