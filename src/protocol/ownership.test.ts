/**
 * Ownership of a Site Server's state (serverContext.ts): each part is written by one module. The
 * types make every part read-only but through `own(ctx, part)`, so this checks that each module
 * calls `own` for its own part only, and that nothing else gets a part writable another way.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Parts } from './serverContext.js';

const OWNERS: Record<keyof Parts, string> = {
  lifecycle: 'serverContext.ts',
  roster: 'membership.ts',
  ordering: 'applying.ts',
  reports: 'reports.ts',
  timeslots: 'timeslots.ts',
  liveness: 'liveness.ts',
  finality: 'finality.ts',
  requests: 'serverContext.ts',
};

const dir = new URL('.', import.meta.url);
const sources = readdirSync(dir)
  .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
  .map((f) => ({ file: f, text: readFileSync(new URL(f, dir), 'utf8') }));

/** `[file, part]` for every `own(ctx, 'part')` call outside the part's owner. */
function foreignWrites(files: ReadonlyArray<{ file: string; text: string }>): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const { file, text } of files) {
    for (const m of text.matchAll(/\bown\(\s*\w+\s*,\s*'(\w+)'\s*\)/g)) {
      const part = m[1] as keyof Parts;
      if (OWNERS[part] !== file) out.push([file, part]);
    }
  }
  return out;
}

describe('who writes which part of a Site Server', () => {
  it('every part has an owner that exists', () => {
    for (const owner of Object.values(OWNERS)) expect(sources.map((s) => s.file)).toContain(owner);
  });

  it('every module takes only its own part writable', () => {
    expect(foreignWrites(sources)).toEqual([]);
    // The check sees a foreign write: it would fail if stateSync.ts took the ordering state.
    expect(foreignWrites([{ file: 'stateSync.ts', text: "own(ctx, 'ordering').lastSeq = 1;" }])).toEqual([['stateSync.ts', 'ordering']]);
  });

  it('no module casts a part writable behind `own`', () => {
    const casts = sources.filter(({ file, text }) => file !== 'serverContext.ts' && /as (Parts\b|\w+Part\b)/.test(text)).map((s) => s.file);
    expect(casts).toEqual([]);
  });
});
