// Child process for the download fault test: download one artifact into a folder, then exit.
// The test SIGKILLs this process mid-stream, as a power cut or OOM kill would.
import { downloadArtifact } from '../../src/edge/artifact-download.ts';

const [url, sha256, dir, bytes] = process.argv.slice(2) as [string, string, string, string];
await downloadArtifact({ url, sha256, bytes: Number(bytes) }, dir);
process.stdout.write('done\n');
