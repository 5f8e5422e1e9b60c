/**
 * Shapes of what we read back from the database. Our own rows, but a hand-edited or older database
 * must not crash the server or put a malformed user on a map: a row that does not fit is ignored.
 */
import { z } from 'zod';
import type { SiteState, UserState } from '../../src/game/types.js';
import type { StoredP2PSite } from './types.js';

const int = z.int();
const itemSchema = z.object({ id: z.string(), kind: z.string(), x: int, y: int });

export const userStateSchema = z.object({
  name: z.string(),
  site: z.string(),
  x: int,
  y: int,
  inventory: z.array(z.object({ id: z.string(), kind: z.string() })),
});

export const siteStateSchema = z.object({
  site: z.string(),
  step: int.min(0),
  rng: int.min(0).max(0xffffffff),
  nextItemNo: int.min(1),
  items: z.array(itemSchema),
  respawnAt: z.array(int),
});

const pair = <A extends z.ZodType, B extends z.ZodType>(a: A, b: B) => z.tuple([a, b]);

export const p2pSiteSchema = z.object({
  site: z.string(),
  coordinator: z.object({
    membership: z.unknown(),
    sysNo: int.min(0),
    banned: z.array(z.string()),
    ignores: z.array(pair(z.string(), int.min(0))),
    evicted: z.array(z.string()),
    done: z.array(pair(int.min(0), z.string())),
    // Signed system actions still sent again: checked (shape, admin signature) before use.
    resend: z.unknown().optional(),
  }),
  users: z.array(z.string()),
  nServer: int.min(1).optional(),
  holders: z.array(z.string()),
  baseSeq: int.min(0),
});

export const scryptParamsSchema = z.object({ N: int, r: int, p: int, keylen: int });

/** Parses a JSON column; undefined when it is not JSON or not the expected shape. */
export function readJson<T>(text: string, schema: z.ZodType<T>): T | undefined {
  try {
    const r = schema.safeParse(JSON.parse(text));
    return r.success ? r.data : undefined;
  } catch {
    return undefined;
  }
}

// Compile-time check that the schemas produce the game's own types.
export type _UserCheck = z.infer<typeof userStateSchema> extends UserState ? true : never;
export type _SiteCheck = z.infer<typeof siteStateSchema> extends SiteState ? true : never;
export type _P2PCheck = z.infer<typeof p2pSiteSchema> extends StoredP2PSite ? true : never;
