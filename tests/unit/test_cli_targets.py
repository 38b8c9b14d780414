"""Operator targets: xnames, hostlist ranges and @files; folding back into ranges."""
from __future__ import annotations

import pytest

from pcs.cli.targets import BadTargets, expand_targets, fold


def test_ranges_expand_in_order_without_duplicates():
    assert expand_targets(["x1000c0s[0-1]b0n[0-1]", "x1000c0s0b0n0", "x1000c0s7b0n0"]) == [
        "x1000c0s0b0n0", "x1000c0s0b0n1", "x1000c0s1b0n0", "x1000c0s1b0n1", "x1000c0s7b0n0"]


def test_at_file_reads_targets_with_comments(tmp_path):
    path = tmp_path / "nodes"
    path.write_text("# rack 1\nx1000c0s[0-1]b0n0  x1000c0s5b0n1\n\nx1000c0s2b0n0 # spare\n")
    assert expand_targets([f"@{path}"]) == ["x1000c0s0b0n0", "x1000c0s1b0n0", "x1000c0s5b0n1",
                                            "x1000c0s2b0n0"]


def test_bad_ranges_and_unreadable_files_name_the_culprit(tmp_path):
    with pytest.raises(BadTargets, match=r"x1000c0s\[0-1b0"):
        expand_targets(["x1000c0s[0-1b0"])
    with pytest.raises(BadTargets, match="cannot read targets from .*missing"):
        expand_targets([f"@{tmp_path / 'missing'}"])


def test_fold_gives_back_ranges():
    names = [f"x1000c0s{s}b0n{n}" for s in (1, 2) for n in (0, 1)] + ["x1000c1s0b0n0"]
    assert fold(names) == "x1000c0s[1-2]b0n[0-1],x1000c1s0b0n0"
    assert fold([]) == ""
