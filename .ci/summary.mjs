// Prints vitest's results as one plain closing line: "tests: N passed, N failed, N skipped", summed
// over the JSON reports named on the command line (the suite's and the container test's, which
// .ci/run runs beside it; default: .vitest/report.json).
import { readFileSync } from 'node:fs';

const files = process.argv.length > 2 ? process.argv.slice(2) : ['.vitest/report.json'];
const sum = { passed: 0, failed: 0, skipped: 0 };
const unread = [];
for (const f of files) {
  try {
    const r = JSON.parse(readFileSync(f, 'utf8'));
    sum.passed += r.numPassedTests;
    sum.failed += r.numFailedTests;
    sum.skipped += r.numPendingTests + (r.numTodoTests ?? 0);
  } catch (e) {
    unread.push(`could not read ${f} (${e.message})`);
  }
}
console.log(
  `tests: ${sum.passed} passed, ${sum.failed} failed, ${sum.skipped} skipped${unread.length ? `; ${unread.join('; ')}` : ''}`,
);
