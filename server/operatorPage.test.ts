import { describe, expect, it } from 'vitest';
import { LOGIN_PAGE, OPERATOR_PAGE } from './operatorPage.js';

describe('operator page client code', () => {
  it('has scripts that parse, never reads a token from the URL, and lists suspects with their evidence', () => {
    for (const page of [OPERATOR_PAGE, LOGIN_PAGE]) {
      const script = /<script>([\s\S]*)<\/script>/.exec(page)?.[1] ?? '';
      expect(script.length).toBeGreaterThan(100);
      expect(() => new Function(script)).not.toThrow();
      expect(script).not.toMatch(/location\.search|token=/);
    }
    expect(OPERATOR_PAGE).toContain('data-testid="operator-suspects"');
    for (const column of ['majority (hash: servers)', 'other side (server: hash)', 'actions in the majority copy', 'copies first part at update'])
      expect(OPERATOR_PAGE).toContain(column);
  });
});
