/**
 * `npm start -- --once --json` as a user runs it (a child process through bin/quickstart.js), with
 * a shorter training run and fewer test images to stay within the test budget. The full default
 * run is what `npm start` does; this test checks the contract, that the federated round trip ran
 * over the three agents and was published with its lineage, and that every device really serves
 * the federated version after its canary rollout.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');

describe('npm start -- --once --json', () => {
  it('prints one JSON object: a federated round trip, then three devices serving its version, each as accurate as the model', async () => {
    const child = spawn(
      process.execPath,
      [join(ROOT, 'bin', 'quickstart.js'), '--once', '--json', '--train-steps', '80', '--samples', '150'],
      {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const code = await new Promise<number | null>((r) => child.on('close', r));
    expect(code, stderr.slice(-2000)).toBe(0);
    const lines = stdout.trim().split('\n');
    expect(lines).toHaveLength(1); // exactly one JSON object on stdout; progress went to stderr
    const s = JSON.parse(lines[0]!);
    expect(stderr).toMatch(/\[8\/8\]/);

    // the federated round trip: every round closed with the three devices' updates, the result was
    // published as the next version with its lineage, and rolled out through the canary
    const fl = s.federated;
    expect(fl.rounds).toBe(3);
    expect(fl.devices).toHaveLength(3);
    for (const d of fl.devices) expect(d.samples).toBeGreaterThan(0);
    expect(fl.published).toMatchObject({ name: 'seed-cnn', version: '1.1.0', parent: 'seed-cnn@1.0.0' });
    expect(fl.published.optimization).toMatch(/^federated:fedavg rounds=3 job=/);
    expect(fl.holdout_accuracy).toHaveLength(4); // the starting model, then after each round
    expect(fl.uplink_bytes).toBeGreaterThan(0);
    expect(fl.deployment.state).toBe('succeeded');
    expect(fl.test_accuracy_local).toBeGreaterThan(0.3);
    // the devices held the one class the central run never saw: the federated rounds taught it
    expect(fl.new_class.device_samples).toBeGreaterThan(0);
    expect(fl.new_class.test_accuracy_before).toBeLessThan(0.05);
    expect(fl.new_class.test_accuracy).toBeGreaterThan(fl.new_class.test_accuracy_before + 0.3);
    expect(fl.test_accuracy_local).toBeGreaterThan(fl.test_accuracy_local_before);

    expect(s.devices.length).toBeGreaterThanOrEqual(3);
    for (const d of s.devices) {
      expect(d).toMatchObject({ model: 'seed-cnn', version: '1.1.0' });
      expect(typeof d.variant).toBe('string');
      expect(d.p50_ms).toBeGreaterThan(0);
      // Every device classifies the test images about as well as the model did locally (the int8
      // and fp16 variants may move a few images); far above chance (10%).
      expect(Math.abs(d.accuracy - fl.test_accuracy_local)).toBeLessThan(0.05);
      expect(d.accuracy).toBeGreaterThan(0.3);
    }
    const byName = Object.fromEntries(s.devices.map((d: { name: string; variant: string }) => [d.name, d.variant]));
    expect(byName['gateway-1']).toBe('fp32'); // fp32-only profile
    const variants = s.model.variants.map((v: { variant: string }) => v.variant);
    if (variants.includes('int8')) expect(byName['camera-1']).toBe('int8');
    expect(byName['sensor-1']).not.toBe('fp32'); // 4 MB of RAM: the memory gate rules fp32 out
    expect(s.deployment.state).toBe('succeeded');
    expect(s.deployment.canary).toHaveLength(1);
    expect(s.model.source).toBe('trained');
  }, 900_000); // it took over 5 min at load 30 (2026-12-02)
});
