/** Progress output: ETA figures, and no raw `{field}` placeholders before the first update. */
import { describe, expect, it } from 'vitest';
import { etaSeconds, formatSeconds, progressBar } from '../../src/cli/output.ts';

describe('progress', () => {
  it('formats seconds and estimates time left at a constant rate', () => {
    expect(formatSeconds(42)).toBe('42s');
    expect(formatSeconds(185)).toBe('3m05s');
    expect(formatSeconds(3720)).toBe('1h02m');
    expect(formatSeconds(NaN)).toBe('?');
    expect(etaSeconds(10, 25, 100)).toBe(30); // 10 s for a quarter: 30 s to go
    expect(etaSeconds(10, 0, 100)).toBeNaN();
  });
  it('prints payload fields as "-" until given, with an ETA, when stderr is not a terminal', () => {
    const lines: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    const isTTY = process.stderr.isTTY;
    Object.defineProperty(process.stderr, 'isTTY', { value: false, configurable: true });
    process.stderr.write = ((s: string) => (lines.push(String(s)), true)) as typeof process.stderr.write;
    try {
      const bar = progressBar(10, 'train [{bar}] epoch {epoch} loss {loss}');
      bar.update(1);
      bar.update(10, { epoch: '1/1', loss: '0.5' });
      bar.stop();
    } finally {
      process.stderr.write = write;
      Object.defineProperty(process.stderr, 'isTTY', { value: isTTY, configurable: true });
    }
    expect(lines[0]).toMatch(/1\/10 \(10%\) epoch=- loss=- \[\d+s ETA \d+s\]/);
    expect(lines.at(-1)).toMatch(/10\/10 \(100%\) epoch=1\/1 loss=0\.5 \[\d+s\]/);
    expect(lines.join('')).not.toMatch(/\{epoch\}|\{loss\}/);
  });
});
