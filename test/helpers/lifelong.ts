/**
 * Lifelong-learning test data: seeded tables whose tasks (season and strategy) really differ, as
 * the integration and conformance tests use them.
 */

/** Seeded data: summer_AC follows t, winter_NV follows h, spring_MM is noise, autumn_AC is rare. */
export function seasonDataset(
  seed: number,
  n: number,
): { columns: string[]; rows: (string | number)[][]; y: number[] } {
  let s = seed;
  const rand = (): number => {
    s = (s * 16807) % 2147483647;
    return s / 2147483647;
  };
  const rows: (string | number)[][] = [];
  const y: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = 15 + rand() * 20;
    const h = 20 + rand() * 60;
    rows.push(['summer', 'AC', t, h], ['winter', 'NV', t, h], ['spring', 'MM', t, h]);
    y.push(t > 25 ? 1 : 0, h > 50 ? 1 : 0, rand() > 0.5 ? 1 : 0);
    if (i < 5) {
      rows.push(['autumn', 'AC', t, h]);
      y.push(t > 25 ? 1 : 0);
    }
  }
  return { columns: ['season', 'strategy', 't', 'h'], rows, y };
}
