export const MAX_SAY_LENGTH = 120;

/** Chat text as every replica stores it: control characters dropped, whitespace collapsed, length capped. */
export function cleanSayText(text: string): string {
  // eslint-disable-next-line no-control-regex
  const noControl = text.replace(/[\u0000-\u001f\u007f-\u009f]/g, ' ');
  return Array.from(noControl.replace(/\s+/g, ' ').trim()).slice(0, MAX_SAY_LENGTH).join('');
}
