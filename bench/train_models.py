#!/usr/bin/env python3
"""PyTorch side of bench/train-models.ts (Debian's python3-torch 1.13 / torchvision 0.14).

  train_models.py spec                               JSON: {name: {shape, batch, opset, note}}
  train_models.py export NAME OUT.onnx               the model verge trains (same seed, eval-mode export)
  train_models.py time NAME THREADS STEPS WARMUP     JSON: {seconds, loss, peak_rss_mb}
  train_models.py profile NAME THREADS STEPS         JSON: {ms_per_step, top_ops: [{op, ms_per_step}]}
                                                     (torch.autograd.profiler, self CPU time per op)

Every model is the same architecture on both sides: BatchNorm and Dropout are replaced by
Identity before export and before PyTorch trains (an eval-mode export folds BatchNorm into the
convolutions and drops Dropout, so a user fine-tuning the export trains this architecture).
Training is plain SGD (lr 0.01), cross-entropy, random seeded batches, model.train().
"""
import json
import resource
import sys
import time

import numpy as np
import torch
import torchvision
from torch import nn

CLASSES = 10
LR = 0.01
SEED = 0
DATA_BATCHES = 4


class SeedCnn(nn.Sequential):
    def __init__(self):
        super().__init__(
            nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(1600, 64), nn.ReLU(), nn.Linear(64, CLASSES))


class GruClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.GRU(6, 64, batch_first=True)
        self.fc = nn.Linear(64, CLASSES)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.fc(out[:, -1])


class SmallTransformer(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Linear(16, 64)
        layer = nn.TransformerEncoderLayer(64, 4, dim_feedforward=128, dropout=0.0, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(64)
        self.fc = nn.Linear(64, CLASSES)

    def forward(self, x):
        return self.fc(self.norm(self.encoder(self.embed(x)).mean(dim=1)))


def tv(name):
    return lambda: getattr(torchvision.models, name)(weights=None, num_classes=CLASSES)


SPECS = {
    "seed_cnn": (SeedCnn, [1, 28, 28], 64, 13, "DESIGN.md's seed CNN"),
    "mobilenet_v2": (tv("mobilenet_v2"), [3, 96, 96], 32, 13, "torchvision, BatchNorm/Dropout removed"),
    "resnet18": (tv("resnet18"), [3, 64, 64], 32, 13, "torchvision, BatchNorm removed"),
    "squeezenet1_1": (tv("squeezenet1_1"), [3, 96, 96], 32, 13, "torchvision, Dropout removed"),
    "gru": (GruClassifier, [50, 6], 64, 13, "GRU(6→64) over 50 steps, linear head"),
    "transformer": (SmallTransformer, [32, 16], 32, 17, "2 encoder layers, d=64, 4 heads, ff 128, 32 tokens"),
}


def strip(model):
    """BatchNorm and Dropout → Identity (what an eval-mode export leaves of them)."""
    for name, child in model.named_children():
        if isinstance(child, (nn.modules.batchnorm._BatchNorm, nn.Dropout)):
            setattr(model, name, nn.Identity())
        else:
            strip(child)
    return model


def build(name):
    torch.manual_seed(SEED)
    return strip(SPECS[name][0]())


def data(name):
    _, shape, batch, _, _ = SPECS[name]
    g = torch.Generator().manual_seed(SEED + 1)
    x = torch.randn((DATA_BATCHES * batch, *shape), generator=g)
    y = torch.randint(0, CLASSES, (DATA_BATCHES * batch,), generator=g)
    return x, y, batch


def stepper(name, threads):
    """One SGD training step of model NAME on its seeded batches, at THREADS threads."""
    torch.set_num_threads(threads)
    model = build(name).train()
    x, y, batch = data(name)
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    lossf = nn.CrossEntropyLoss()

    def step(i):
        j = (i % DATA_BATCHES) * batch
        opt.zero_grad()
        loss = lossf(model(x[j:j + batch]), y[j:j + batch])
        loss.backward()
        opt.step()
        return loss

    return step


def main():
    cmd = sys.argv[1]
    if cmd == "spec":
        print(json.dumps({k: {"shape": s, "batch": b, "opset": o, "note": n} for k, (_, s, b, o, n) in SPECS.items()}))
    elif cmd == "export":
        name, out = sys.argv[2], sys.argv[3]
        model = build(name).eval()
        x, _, batch = data(name)
        torch.onnx.export(model, x[:2], out, input_names=["input"], output_names=["logits"],
                          opset_version=SPECS[name][3], dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
                          do_constant_folding=True)
    elif cmd == "profile":
        name, threads, steps = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
        step = stepper(name, threads)
        for i in range(3):
            step(i)
        with torch.autograd.profiler.profile() as prof:
            for i in range(steps):
                step(i)
        ops = sorted(prof.key_averages(), key=lambda e: -e.self_cpu_time_total)
        total = sum(e.self_cpu_time_total for e in ops)
        print(json.dumps({
            "ms_per_step": round(total / steps / 1000, 2),
            "top_ops": [{"op": e.key, "ms_per_step": round(e.self_cpu_time_total / steps / 1000, 2),
                         "calls_per_step": e.count / steps} for e in ops[:14]],
        }))
    elif cmd == "time":
        name, threads, steps, warmup = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
        step = stepper(name, threads)
        for i in range(warmup):
            step(i)
        t = time.perf_counter()
        last = None
        for i in range(steps):
            last = step(warmup + i)
        dt = time.perf_counter() - t
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps({"seconds": dt, "loss": float(last), "peak_rss_mb": rss}))
    else:
        sys.exit(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
