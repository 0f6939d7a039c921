"""dc.tl.variant_effect: SNVs from a DataFrame or a VCF, reference check."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

import deepcage as dc

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def setup():
    adata = dc.datasets.synthetic(n_samples=6, n_loci=300, n_tfs=4, seed=6)
    model = dc.tl.fit(adata, preset="small", hidden=16, max_epochs=1, progress=False)
    model.motifs = dc.datasets.synthetic_motifs(adata)
    genome = dc.Genome(model.genome["fasta"])
    loci = model.loci.iloc[[3, 10, 50]]
    pos0 = ((loci["start"] + loci["end"]) // 2).to_numpy()
    refs = [genome.fetch(c, int(p), int(p) + 1) for c, p in zip(loci["chrom"], pos0)]
    alts = [{"A": "C", "C": "G", "G": "T", "T": "A"}[r] for r in refs]
    variants = pd.DataFrame({"chrom": loci["chrom"].to_numpy(), "pos": pos0 + 1, "ref": refs, "alt": alts})
    return adata, model, genome, variants


def test_variant_effect_dataframe(setup):
    adata, model, genome, variants = setup
    out = dc.tl.variant_effect(model, variants, samples=["sample1", "sample2"])
    assert len(out) == 3 * 2
    assert list(out.columns) == [
        "variant",
        "chrom",
        "pos",
        "ref",
        "alt",
        "sample",
        "pred_ref",
        "pred_alt",
        "delta",
    ]
    np.testing.assert_allclose(out["delta"], out["pred_alt"] - out["pred_ref"])
    # the reference prediction is the model's prediction of the window centred on the variant
    codes = genome.windows(variants["chrom"], variants["pos"] - 1, 1000)
    from deepcage.tl._predict import score_motifs

    expect = model.predict_arrays(
        codes, score_motifs(model, codes), model.sample_expr.loc[["sample1", "sample2"]]
    )
    np.testing.assert_allclose(out["pred_ref"].to_numpy().reshape(3, 2), expect, atol=1e-6)
    assert (out["delta"] != 0).any()
    everyone = dc.tl.variant_effect(model, variants)
    assert len(everyone) == 3 * adata.n_obs


def test_variant_effect_vcf(setup, tmp_path):
    adata, model, genome, variants = setup
    vcf = tmp_path / "v.vcf"
    lines = ["##fileformat=VCFv4.2"]
    lines += [f"##contig=<ID={c},length={n}>" for c, n in genome.chrom_sizes.items()]
    lines.append("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO")
    for i, r in variants.iterrows():
        lines.append(f"{r.chrom}\t{r.pos}\trs{i}\t{r.ref}\t{r.alt}\t.\t.\t.")
    lines.append(
        f"{variants.chrom[0]}\t{variants.pos[0]}\tindel1\t{variants.ref[0]}\t{variants.ref[0]}AA\t.\t.\t."
    )
    vcf.write_text("\n".join(lines) + "\n")
    with pytest.warns(UserWarning, match="not SNVs"):
        out = dc.tl.variant_effect(model, vcf, samples="sample3")
    assert list(out["variant"]) == ["rs0", "rs1", "rs2"]
    frame = dc.tl.variant_effect(model, variants, samples="sample3")
    np.testing.assert_allclose(out["delta"], frame["delta"])


def test_reference_mismatch_names_the_variant(setup):
    _, model, _, variants = setup
    wrong = variants.copy()
    wrong.loc[1, "ref"] = wrong.loc[1, "alt"]
    wrong.loc[1, "alt"] = variants.loc[1, "ref"]
    label = f"{wrong.chrom[1]}:{wrong.pos[1]}:{wrong.ref[1]}>{wrong.alt[1]}"
    with pytest.raises(ValueError, match=f"mismatch for variant '{label}'"):
        dc.tl.variant_effect(model, wrong)


def test_variant_effect_needs_motifs_and_known_samples(setup):
    _, model, _, variants = setup
    saved = model.motifs
    model.motifs = None
    try:
        with pytest.raises(ValueError, match="motifs"):
            dc.tl.variant_effect(model, variants)
    finally:
        model.motifs = saved
    with pytest.raises(KeyError, match="nope"):
        dc.tl.variant_effect(model, variants, samples=["nope"])
