/**
 * Ed25519 in the browser, measured: `npx tsx bench/browserCrypto.ts [rounds]` bundles
 * browserCrypto.page.ts with esbuild, runs it `rounds` times (default 5, each in a fresh page) in
 * Chromium ($CHROMIUM_PATH or /usr/bin/chromium) and prints the median µs per call (numbers in
 * docs/hosting.md "Signatures" and bench/README.md).
 */
import { build } from 'esbuild';
import { chromium } from '@playwright/test';

const rounds = Number(process.argv[2] ?? 5);
if (!Number.isInteger(rounds) || rounds < 1 || rounds > 50) throw new Error('rounds must be an integer in 1..50');

const bundle = await build({
  entryPoints: [new URL('./browserCrypto.page.ts', import.meta.url).pathname],
  bundle: true,
  format: 'esm',
  write: false,
  platform: 'browser',
});
const code = bundle.outputFiles[0]?.text ?? '';
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium' });
const results: Array<Record<string, number>> = [];
try {
  for (let i = 0; i < rounds; i++) {
    const page = await browser.newPage();
    // A local origin: WebCrypto wants a secure context, and nothing may come from the network.
    await page.route('http://localhost/**', (r) => r.fulfill({ contentType: 'text/html', body: '<!doctype html><title>bench</title>' }));
    await page.goto('http://localhost/');
    await page.addScriptTag({ content: code, type: 'module' });
    await page.waitForFunction(() => 'runBench' in globalThis);
    results.push(await page.evaluate(() => (globalThis as unknown as { runBench(): Promise<Record<string, number>> }).runBench()));
    await page.close();
  }
  console.log(`Chromium ${browser.version()}, ${rounds} rounds, median µs per call (ms for the load)`);
  for (const k of Object.keys(results[0] ?? {})) {
    const v = results.map((r) => r[k] ?? NaN).sort((a, b) => a - b);
    const med = v[Math.floor(v.length / 2)] ?? NaN;
    console.log(`  ${k.padEnd(22)} ${med.toFixed(1).padStart(8)}   (min ${(v[0] ?? NaN).toFixed(1)}, max ${(v.at(-1) ?? NaN).toFixed(1)})`);
  }
} finally {
  await browser.close();
}
