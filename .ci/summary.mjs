// Prints vitest's results as one plain closing line: "tests: N passed, N failed, N skipped", summed
// over the JSON reports named on the command line (the suite's and the container test's, which
// .ci/run runs beside it; default: .vitest/report.json). Before it, the slowest test files with their
// durations: what to look at when the suite nears CI's time limit.
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';

/** How many of the slowest files are listed. */
const SLOWEST = 12;

const files = process.argv.length > 2 ? process.argv.slice(2) : ['.vitest/report.json'];
const sum = { passed: 0, failed: 0, skipped: 0 };
const unread = [];
const durations = [];
for (const f of files) {
  try {
    const r = JSON.parse(readFileSync(f, 'utf8'));
    sum.passed += r.numPassedTests;
    sum.failed += r.numFailedTests;
    sum.skipped += r.numPendingTests + (r.numTodoTests ?? 0);
    for (const t of r.testResults ?? [])
      if (t.endTime > t.startTime) durations.push([(t.endTime - t.startTime) / 1000, relative(process.cwd(), t.name)]);
  } catch (e) {
    unread.push(`could not read ${f} (${e.message})`);
  }
}
durations.sort((a, b) => b[0] - a[0]);
if (durations.length) console.log(`slowest test files (s, of ${durations.length}):`);
for (const [s, name] of durations.slice(0, SLOWEST)) console.log(`${s.toFixed(1).padStart(8)}  ${name}`);
console.log(
  `tests: ${sum.passed} passed, ${sum.failed} failed, ${sum.skipped} skipped${unread.length ? `; ${unread.join('; ')}` : ''}`,
);
