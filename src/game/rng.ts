/**
 * Seeded integer PRNG (mulberry32). Its whole state is one uint32 kept inside the
 * site state, so every replica that applies the same actions draws the same numbers.
 */
export function nextRandom(seed: number): { value: number; seed: number } {
  const next = (seed + 0x6d2b79f5) >>> 0;
  let t = next;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return { value: (t ^ (t >>> 14)) >>> 0, seed: next };
}

/** A stream of uniform numbers in [0, 1) from one seed (tests, texture noise): the same generator. */
export function randomStream(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    const r = nextRandom(state);
    state = r.seed;
    return r.value / 4294967296;
  };
}

/** Uniform integer in [0, n) and the advanced seed. Modulo bias is irrelevant at map sizes. */
export function randomInt(seed: number, n: number): { value: number; seed: number } {
  const r = nextRandom(seed);
  return { value: r.value % n, seed: r.seed };
}

/** Turns any string into a uint32 seed (FNV-1a), so a site's initial items depend only on its id and the world seed. */
export function seedFrom(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
