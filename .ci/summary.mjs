// Prints vitest's result as one plain closing line: "tests: N passed, N failed, N skipped".
import { readFileSync } from 'node:fs';
try {
  const r = JSON.parse(readFileSync('.vitest/report.json', 'utf8'));
  console.log(
    `tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + (r.numTodoTests ?? 0)} skipped`,
  );
} catch (e) {
  console.log(`tests: could not read .vitest/report.json (${e.message})`);
}
