"""benchmarks/published_seeds.py counts each method's published seeds at a threshold, at one env step."""

import json

import pytest

from agent.suite.reference import load_reference
from benchmarks.published_seeds import count_seeds, main


def test_counts_seeds_per_method_at_exactly_that_step_and_leaves_out_means_only():
    reference = {"reacher-easy": {"MR.Q": {50_000: [950.0, 890.0, 910.0, 700.0], 45_000: [100.0]},
                                  "BMPC": {50_000: [999.0]}, "SAC": {40_000: [990.0]}}}
    rows = count_seeds(reference, "reacher-easy", 50_000, 900.0, 3)
    assert [r.method for r in rows] == ["MR.Q"]  # BMPC is a mean only, SAC has nothing at 50k
    (row,) = rows
    assert (row.seeds, row.at_or_above, row.worst) == (4, 2, 700.0)
    assert row.mean == pytest.approx(862.5) and row.chance_all_k == pytest.approx(0.5 ** 3)


def test_reads_the_published_files_in_our_step_unit(tmp_path):
    # MR.Q's file counts agent decisions (our unit): its 10 seeds at 50k on reacher-easy, 7 of them >= 900
    # (852, 881 and 894 below); TD-MPC2's 3 seeds at its 100k env steps = our 50k: 978, 973, 860.
    rows = {r.method: r for r in count_seeds(load_reference(), "reacher-easy", 50_000, 900.0, 3)}
    assert (rows["MR.Q"].seeds, rows["MR.Q"].at_or_above, rows["MR.Q"].worst) == (10, 7, 851.8)
    assert (rows["TD-MPC2"].seeds, rows["TD-MPC2"].at_or_above, rows["TD-MPC2"].worst) == (3, 2, 859.9)
    main(["--out", str(tmp_path)])
    result = json.loads((tmp_path / "published_seeds_reacher-easy-50k.json").read_text())
    assert result["command"] == "python benchmarks/published_seeds.py --out " + str(tmp_path)
    assert "| MR.Q | 10 | 7 |" in (tmp_path / "published_seeds_reacher-easy-50k.md").read_text()


def test_a_step_nobody_published_is_one_line():
    with pytest.raises(SystemExit, match="no method published per-seed returns for --task reacher-easy at "
                                         "--env-steps 12345"):
        main(["--env-steps", "12345", "--out", "/nonexistent"])
