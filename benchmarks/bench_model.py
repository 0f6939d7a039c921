"""Model cost and trunk reuse of the DeepCAGE network (``deepcage.model._network.DeepCAGENet``).

1. Cost of the ``paper`` preset vs the paper's architecture (~2.5 M parameters, ~0.4 GFLOP per example):
   parameters (hidden 512 as in the paper's text and 256 as in its released code) and FLOPs / MACs of one
   (locus, sample) example counted by ``torch.utils.flop_counter.FlopCounterMode`` on the naive per-pair pass
   (it counts 2 FLOPs per multiply-accumulate), split into trunk and head.
2. Trunk reuse: examples/s of ``DeepCAGENet.forward`` (trunk once per locus, shared by the samples of the
   batch) ÷ examples/s of ``DeepCAGENet.forward_pairs`` (trunk run for every (locus, sample) pair), both on
   the same examples (``--loci`` loci x ``--samples`` samples per batch), CPU, inference (eval,
   ``torch.inference_mode``) and training (forward + backward + Adam step). Rounds of the two are
   interleaved and each side keeps its best round (the one least disturbed by other jobs on a shared
   machine); the per-round ratios are printed too. The
   naive pass costs the same per example for any number of samples, so the ratio at other sample counts
   (``--more-samples``, e.g. the paper's 44 training cell types) is shared examples/s there ÷ the same naive
   rate. The FLOP bound of the ratio (naive FLOPs / shared FLOPs for the same examples) is printed too, and
   the naive pass at the shared pass's trunk batch size (``--loci`` pairs per call), which isolates the FLOP
   saving from batch-size effects on the CPU caches.

Run: python benchmarks/bench_model.py [--tfs 769] [--loci 16] [--samples 10] [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import time

import torch


def _flops(fn) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        fn()
    return int(counter.get_total_flops())


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--tfs", type=int, default=769, help="TF inputs (769 motif columns in the paper's table)"
    )
    parser.add_argument("--hidden", type=int, default=512)
    parser.add_argument("--loci", type=int, default=16, help="loci per batch")
    parser.add_argument("--samples", type=int, default=10, help="samples per batch")
    parser.add_argument("--more-samples", type=int, nargs="*", default=[44])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--train-rounds", type=int, default=3)
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch CPU threads (default 1: on a shared machine whose load exceeds its cores, multi-threaded kernels on small batches mostly wait at thread barriers; use 2+ on an idle machine)",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from deepcage.model._network import DeepCAGENet

    torch.manual_seed(0)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs, "
        f"load average {tuple(round(x, 2) for x in os.getloadavg())}"
    )

    # ---------------------------------------------------------------- 1. cost
    T, L = args.tfs, 1000
    net = DeepCAGENet(T, preset="paper", hidden=args.hidden).eval()
    net256 = DeepCAGENet(T, preset="paper", hidden=256)
    n_trunk = sum(p.numel() for p in net.trunk.parameters())
    x1, m1, e1 = torch.rand(1, 4, L), torch.randn(1, T), torch.randn(1, T)
    with torch.no_grad():
        f_pair = _flops(lambda: net.forward_pairs(x1, m1, e1))
        f_trunk = _flops(lambda: net.trunk(x1))
    print(f"\n[cost] paper preset, {T} TFs, 1,000 bp, trunk output {net.n_features} features")
    print(
        f"  parameters: {net.n_parameters() / 1e6:.2f} M with hidden={args.hidden} "
        f"(trunk {n_trunk / 1e6:.2f} M, FC {net.fc.weight.numel() / 1e6:.2f} M); "
        f"{net256.n_parameters() / 1e6:.2f} M with hidden=256 (paper: ~2.5 M)"
    )
    print(
        f"  per (locus, sample) example, naive pass: {f_pair / 1e9:.3f} GFLOP = {f_pair / 2e9:.3f} G MACs "
        f"(trunk {f_trunk / 1e9:.3f} GFLOP, head {(f_pair - f_trunk) / 1e6:.2f} MFLOP); paper: ~0.4 GFLOP"
    )

    # ---------------------------------------------------------------- 2. trunk reuse
    B, K = args.loci, args.samples
    x = torch.rand(B, 4, L)
    m = torch.randn(B, T)
    e = torch.randn(K, T)
    xs = x.repeat_interleave(K, dim=0)  # naive: every (locus, sample) pair carries its own sequence
    ms = m.repeat_interleave(K, dim=0)
    es = e.repeat(B, 1)
    with torch.no_grad():
        f_shared = _flops(lambda: net(x, m, e))
        f_naive = _flops(lambda: net.forward_pairs(xs, ms, es))
        out_s, out_n = net(x, m, e), net.forward_pairs(xs, ms, es).reshape(B, K)
    assert torch.allclose(out_s, out_n, atol=1e-4), "shared and naive outputs differ"
    bound = f_naive / f_shared
    print(f"\n[trunk reuse] {B} loci x {K} samples = {B * K} examples per batch (outputs equal)")
    print(
        f"  FLOPs per batch: shared {f_shared / 1e9:.2f} G, naive {f_naive / 1e9:.2f} G -> bound {bound:.2f}x"
    )

    def infer_shared(k=K):
        with torch.inference_mode():
            net(x, m, e[:k] if k <= K else torch.randn(k, T))

    def infer_naive():
        with torch.inference_mode():
            net.forward_pairs(xs, ms, es)

    def infer_naive_small():  # naive with the shared pass's trunk batch size (B pairs per call)
        with torch.inference_mode():
            net.forward_pairs(xs[:B], ms[:B], es[:B])

    for _ in range(2):  # warm-up (oneDNN primitives for these shapes)
        infer_shared(), infer_naive(), infer_naive_small()
    ts_all, tn_all, tq_all = [], [], []
    for _ in range(args.rounds):
        ts_all.append(_timed(infer_shared))
        tn_all.append(_timed(infer_naive))
        tq_all.append(_timed(infer_naive_small))
    # best of the rounds for each side: the least disturbed by other jobs on a shared machine
    r_inf = min(tn_all) / min(ts_all)
    naive_rate = B * K / min(tn_all)
    print(
        f"  inference: shared {B * K / min(ts_all):8.1f} examples/s, naive {naive_rate:8.1f} examples/s (best of "
        f"{args.rounds}), ratio {r_inf:.2f}x (per-round ratios: {', '.join(f'{n / s:.2f}' for s, n in zip(ts_all, tn_all))})"
    )
    r_same_batch = (B * K / min(ts_all)) / (B / min(tq_all))
    print(
        f"  inference, naive at the shared trunk batch ({B} pairs per call): {B / min(tq_all):8.1f} examples/s -> "
        f"ratio {r_same_batch:.2f}x (the pure FLOP saving; the {B * K}-pair naive batch is slower per example: "
        "its activations do not fit the caches)"
    )
    more = {}
    for k in args.more_samples:
        ek = torch.randn(k, T)
        with torch.inference_mode():
            net(x, m, ek)
            t = min(_timed(lambda ek=ek: net(x, m, ek)) for _ in range(3))
        more[k] = (B * k / t) / naive_rate
        print(
            f"  inference at {k} samples: shared {B * k / t:8.1f} examples/s -> ratio {more[k]:.1f}x vs naive"
        )

    # training step: forward + backward + Adam, train mode (BatchNorm, dropout)
    tnet = DeepCAGENet(T, preset="paper", hidden=args.hidden).train()
    opt = torch.optim.Adam(tnet.parameters(), lr=1e-3)
    y = (torch.rand(B, K) > 0.8).float()
    bce = torch.nn.functional.binary_cross_entropy_with_logits

    def train_shared():
        opt.zero_grad()
        bce(tnet(x, m, e), y).backward()
        opt.step()

    def train_naive():
        opt.zero_grad()
        bce(tnet.forward_pairs(xs, ms, es), y.reshape(-1)).backward()
        opt.step()

    train_shared(), train_naive()
    ts_all, tn_all = [], []
    for _ in range(args.train_rounds):
        ts_all.append(_timed(train_shared))
        tn_all.append(_timed(train_naive))
    r_train = min(tn_all) / min(ts_all)
    print(
        f"  training:  shared {B * K / min(ts_all):8.1f} examples/s, naive {B * K / min(tn_all):8.1f} examples/s "
        f"(best of {args.train_rounds}), ratio {r_train:.2f}x (per-round ratios: "
        f"{', '.join(f'{n / s:.2f}' for s, n in zip(ts_all, tn_all))})"
    )
    print(f"load average after: {tuple(round(x, 2) for x in os.getloadavg())}")
    more_txt = ", ".join(f"{v:.0f}x at {k} samples" for k, v in more.items())
    print(
        f"SUMMARY model: {net.n_parameters() / 1e6:.2f} M params (hidden {args.hidden}; "
        f"{net256.n_parameters() / 1e6:.2f} M at 256; paper ~2.5 M), {f_pair / 1e9:.3f} GFLOP = "
        f"{f_pair / 2e9:.3f} GMAC per example (paper ~0.4 GFLOP); trunk reuse at {K} samples: inference "
        f"{r_inf:.1f}x, training {r_train:.1f}x, inference vs naive at the same trunk batch {r_same_batch:.1f}x "
        f"(FLOP bound {bound:.1f}x; target >= 10x); {more_txt}"
    )


if __name__ == "__main__":
    main()
