"""The README's Python API example (between ``<!-- api-example -->`` and
``<!-- /api-example -->``) runs as written, from the repository root, on the real subset."""

import ast
import math
import re
import subprocess
import sys

from .conftest import REPO

START, END = "<!-- api-example -->", "<!-- /api-example -->"


def readme_example() -> str:
    """The fenced python block between the markers; a README without them fails the test."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    assert START in text and END in text, f"README.md lacks the {START} ... {END} markers"
    between = text.split(START, 1)[1].split(END, 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", between, flags=re.DOTALL)
    assert len(blocks) == 1, f"expected one ```python block between the markers, {len(blocks)}"
    return blocks[0]


def test_the_readme_api_example_runs_and_prints_three_finite_scores(cifar10_subset):
    code = readme_example()
    assert "../shared/data/cifar10_subset" in code  # the path the cifar10_subset skip checks
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    printed = ast.literal_eval(out.stdout.strip().splitlines()[-1])
    assert isinstance(printed, dict) and list(printed) == ["synflow", "nwot", "snip"], printed
    assert all(isinstance(v, float) and math.isfinite(v) for v in printed.values()), printed
