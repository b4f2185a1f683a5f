/**
 * The bench's progress display: one line rewritten in place on a terminal, plain throttled lines
 * elsewhere, nothing when disabled. The clock is a counter, not time.
 */
import { describe, expect, it } from 'vitest';
import { clock, Progress } from './progress.js';

function fake(isTTY: boolean, columns = 80) {
  const writes: string[] = [];
  let t = 0;
  const stream = { isTTY, columns, write: (s: string) => writes.push(s) };
  return { writes, stream, tick: (ms: number) => (t += ms), now: () => t };
}

describe('Progress on a terminal', () => {
  it('rewrites one line in place and erases it before a table', () => {
    const f = fake(true);
    const p = new Progress(f.stream, { now: f.now });
    p.step('[1/2] e2e');
    f.tick(50);
    p.update('1 publisher'); // within the redraw interval: skipped
    f.tick(100);
    p.update('2 publishers');
    expect(f.writes).toHaveLength(2);
    for (const w of f.writes) {
      expect(w.startsWith('\r\x1b[K')).toBe(true);
      expect(w).not.toContain('\n');
    }
    expect(f.writes[0]).toBe('\r\x1b[Kbench 0:00 [1/2] e2e');
    expect(f.writes[1]).toContain('[1/2] e2e: 2 publishers');
    p.clear();
    expect(f.writes[2]).toBe('\r\x1b[K');
    p.clear(); // nothing shown any more: nothing to erase
    expect(f.writes).toHaveLength(3);
  });

  it('cuts a line to the terminal width', () => {
    const f = fake(true, 30);
    new Progress(f.stream, { now: f.now }).step('x'.repeat(100));
    const shown = f.writes[0]!.slice('\r\x1b[K'.length);
    expect(shown).toHaveLength(29);
    expect(shown.endsWith('…')).toBe(true);
  });
});

describe('Progress in a pipe', () => {
  it('prints every step and at most one detail per interval, as lines', () => {
    const f = fake(false);
    const p = new Progress(f.stream, { now: f.now });
    p.step('[1/1] scale');
    f.tick(1_000);
    p.update('connecting'); // the step was just printed
    f.tick(10_000);
    p.update('sending');
    f.tick(65_000);
    p.done();
    expect(f.writes).toEqual([
      'bench 0:00 [1/1] scale\n',
      'bench 0:11 [1/1] scale: sending (0:11 in this step)\n',
      'bench: done in 1:16\n',
    ]);
  });

  it('writes nothing when disabled', () => {
    const f = fake(false);
    const p = new Progress(f.stream, { now: f.now, enabled: false });
    p.step('a');
    p.update('b');
    p.done();
    expect(f.writes).toEqual([]);
    p.enabled = true;
    p.step('c');
    expect(f.writes).toEqual(['bench 0:00 c\n']);
  });
});

describe('clock', () => {
  it('prints m:ss', () => {
    expect(clock(0)).toBe('0:00');
    expect(clock(61_999)).toBe('1:01');
    expect(clock(3_600_000)).toBe('60:00');
  });
});
