/**
 * train/: automatic differentiation of ONNX graphs and training on onnxruntime.
 *
 *   const s = await TrainingSession.create(model, { loss: 'cross-entropy', optimizer: { kind: 'adam', lr: 1e-3 }, threads: 2 });
 *   const { loss, correct, count } = await s.step({ image: x }, labels, lr);   // one Session.run
 *   await s.evaluate({ image: x }, labels);      // inference mode (running BN stats, no dropout)
 *   await s.predict({ image: x });               // model outputs
 *   saveModel(s.exportModel(), 'trained.onnx');  // plain inference ONNX with the trained weights
 *   s.getState() / s.setState(st); s.checkpointModel() / s.restoreCheckpoint(m); await s.release();
 *   (files, Node only: saveCheckpointFile / loadCheckpointFile / directoryCheckpoints in checkpoint-files.ts;
 *   browser.ts is this API without them)
 *
 *   await fit(s, dataset, { epochs: 5, schedule: parseSchedule('cosine+warmup:100') });   // the trainer
 *   await fit(s, dataset, { callbacks: [{ onBatchEnd: (b, r, ctx) => …, onBatchBegin: (b) => augment(b) }] });
 *   await evaluate(s, dataset);                  // or evaluate(model, dataset): accuracy and loss
 *
 * Between steps (callbacks): s.tensor(name), s.setTensors({...}), s.updateTensors(names, edit),
 * s.resetOptimizer(). Extra objective terms at creation: TrainingSession.create(model, {…,
 * lossTerms: [proximalTerm(0.01)] }) (FedProx; anchors `<param>.anchor` set with setTensors).
 * Gradient formulations are an option too: { formulations: { convWeight: 'patches-gemm' } }.
 * Data parallelism: { replicas } (GradientReplicas: runners of the gradient graph in other threads,
 * e.g. web workers) cuts every batch between them; same step as one session on the whole batch.
 *
 * Transfer learning: const { model: m } = replaceHead(model, 5); const { frozen } = resolveFrozen(m, 'backbone');
 * TrainingSession.create(m, { …, frozen, trainBatchNorm: false })   // fresh head, fixed backbone and BN stats
 *
 * Imported GRU/LSTM models are lowered to primitive ops first: lowerRecurrentFor(model, feeds,
 * formulations) (lowerRecurrent when the sequence length is known; with formulation gru 'fused'
 * PyTorch-style GRUs stay one node, differentiated by grad/GRU.ts), train the result, then
 * transferParameters(original, trained) puts the weights back into the fused model.
 *
 * Lower level: buildTrainingGraph (forward + loss + backward + optimizer as one ONNX model),
 * buildGradientModel / differentiate (reverse-mode autodiff), checkGradients (finite differences),
 * GRAD_RULES (one rule per op in grad/<Op>.ts).
 */
export * from './browser.ts';
export { saveCheckpointFile, loadCheckpointFile, directoryCheckpoints } from './checkpoint-files.ts';
