/** The bench tools' command-line numbers: an integer within bounds, or a clear error naming both. */
export function intArg(s: string | undefined, lo: number, hi: number): number {
  const x = Number(s);
  if (!Number.isInteger(x) || x < lo || x > hi) throw new Error(`not an integer in ${lo}..${hi}: ${s}`);
  return x;
}
