import pytest

import deepcage as dc
from deepcage.cli import main


@pytest.mark.slow
def test_demo_command_writes_figure_and_a_loadable_model(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path / "demo"), "--epochs", "3", "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "baseline_locus_mean" in printed and "Top TFs by gene importance score" in printed
    figure = tmp_path / "demo" / "demo.png"
    assert figure.stat().st_size > 10_000
    model = dc.DeepCAGE.load(tmp_path / "demo" / "model")
    assert model.tfs == [f"TF{i}" for i in range(1, 9)]
