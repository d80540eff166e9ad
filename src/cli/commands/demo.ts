import type { Command } from 'commander';
import {
  DEFAULT_FL_ROUNDS,
  DEFAULT_TEST_SAMPLES,
  DEFAULT_TRAIN_STEPS,
  MAX_FL_ROUNDS,
  MAX_TEST_SAMPLES,
} from '../../demo/defaults.ts';
import { action } from '../command.ts';
import { integer, port, positiveInt } from '../options.ts';

export function register(program: Command): void {
  const demo = program
    .command('demo')
    .description('end-to-end demonstrations (`npm start` runs `verge demo quickstart`)');
  demo
    .command('quickstart')
    .description(
      "a control plane, a seed CNN trained briefly on Fashion-MNIST, its int8/fp16 variants, three edge agents with different profiles, a canary rollout promoted after its health gate, a federated round trip (the agents fine-tune the model on their own non-IID images; the result is published as the next version and rolled out), and test images through every agent's API",
    )
    .option('--once', 'run once, print the summary and exit (default: stay up and serve)')
    .option(
      '--json',
      'print ONE JSON object {devices:[{name, model, version, variant, accuracy, p50_ms}], ...} on stdout',
    )
    .option('--data-dir <dir>', 'keep everything in this (new, empty) folder instead of a temporary one')
    .option('--port <port>', 'control plane API port (default: a free one)', port('--port'))
    .option(
      '--train-steps <n>',
      'optimizer steps of the brief training run',
      positiveInt('--train-steps'),
      DEFAULT_TRAIN_STEPS,
    )
    .option('--model <file.onnx>', 'deploy this Fashion-MNIST classifier ([N,1,28,28] input) instead of training one')
    .option(
      '--samples <n>',
      'test images sent through each agent',
      integer('--samples', { min: 1, max: MAX_TEST_SAMPLES }),
      DEFAULT_TEST_SAMPLES,
    )
    .option(
      '--fl-rounds <n>',
      'FedAvg rounds of the federated round trip over the three agents (0 skips it)',
      integer('--fl-rounds', { min: 0, max: MAX_FL_ROUNDS }),
      DEFAULT_FL_ROUNDS,
    )
    .action(action(() => import('../actions/demo-quickstart.ts')));
  demo
    .command('browser')
    .description(
      "serve verge's browser app and open its training page: the seed CNN is built, trained on Fashion-MNIST and used to classify drawings inside the tab (onnxruntime-web, WASM threads)",
    )
    .option('--port <port>', 'HTTP port (default: a free one)', port('--port'), 0)
    .option('--host <addr>', 'bind address', '127.0.0.1')
    .option('--web-dir <dir>', 'the built app (default: the package’s dist/app; built there when missing)')
    .option('--once', 'check that the pages are served (cross-origin isolated) and exit')
    .option(
      '--headless',
      'train in the page inside headless Debian chromium (/usr/bin/chromium), print the outcome and exit',
    )
    .option('--samples <n>', 'training samples (--headless)', integer('--samples', { min: 64, max: 2000 }), 1024)
    .option('--epochs <n>', 'epochs (--headless)', integer('--epochs', { min: 1, max: 20 }), 2)
    .option('--json', 'print ONE JSON object {url, train_url, ...} on stdout')
    .action(action(() => import('../actions/demo-browser.ts')));
}
