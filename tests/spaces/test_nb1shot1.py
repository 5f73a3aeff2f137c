"""NAS-Bench-1Shot1 search space 3: layout, supernet, discretisation, pruning, hash, look-up."""

import itertools
from pathlib import Path

import numpy as np
import pytest
import torch

from freedarts_cli.benchmark.table import TableBenchmark
from freedarts_cli.pruner import Iterative, OneShot
from freedarts_cli.scorer import SynFlow, check_scores
from freedarts_cli.spaces.nb1shot1 import (
    COLUMNS,
    EDGE_PAIRS,
    EDGE_ROW,
    EDGES,
    NODES,
    OFF,
    ON,
    OPS,
    PARENTS,
    NB1Shot1Space,
    NB101Network,
    SearchCell,
    adjacency,
    choice_from,
    count_architectures,
    hash_of,
    is_valid,
    module_hash,
    parents_of,
    pruned_spec,
)

REPO = Path(__file__).resolve().parents[2]
CPU = torch.device("cpu")


def tiny() -> NB1Shot1Space:
    """Small enough for pruning loops in a unit test (same cell, same α layout)."""
    return NB1Shot1Space(C=4, cells_per_stack=1, input_size=8)


def score(net, where):
    return SynFlow()(net)


def assert_valid(choice):
    assert is_valid(choice)
    parents = parents_of(choice)
    assert {v: len(p) for v, p in parents.items()} == {1: 1, 2: 1, 3: 1, 4: 2, 5: 2, 6: 2}
    assert all(all(s < v for s in p) for v, p in parents.items())
    assert adjacency(choice).sum() == 9


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    return NB1Shot1Space().build_supernet(1e-3, torch.float64, CPU)


def test_layout_alpha_and_mask(net):
    assert COLUMNS == ["conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3", "off", "on"]
    assert EDGES[:5] == ["node1", "node2", "node3", "node4", "node5"]
    assert EDGES[5:8] == ["2<-0", "2<-1", "3<-0"] and EDGES[-1] == "6<-5" and len(EDGES) == 25
    assert net.alpha.shape == (25, 5) and net.alpha.dtype == torch.float64
    assert net.input_shape == (3, 32, 32)
    expected = torch.zeros(25, 5, dtype=torch.bool)
    expected[:5, :3] = True
    expected[5:, ON] = True
    assert torch.equal(net.mask, expected)
    assert sum(isinstance(m, SearchCell) for m in net.modules()) == 9
    # 1Shot1 channels: C=16, doubled at cells 3 and 6; each cell outputs 5 nodes × C
    assert net.cells[0].proj[0][0].in_channels == 16
    assert net.cells[3].proj[0][0].in_channels == 80 and net.cells[3].proj[0][0].out_channels == 32
    assert net.classifier.in_features == 64


def test_forward_gives_logits(net):
    out = net(torch.randn(2, 3, 32, 32, dtype=torch.float64))
    assert out.shape == (2, 10) and torch.isfinite(out).all()


def test_alpha_and_edge_weights_are_raw():
    torch.manual_seed(1)
    net = tiny().build_supernet(1e-3, torch.float64, CPU)
    cell = net.cells[0]
    x = torch.randn(1, 4, 8, 8, dtype=torch.float64)
    row = list(net.alpha.detach()[0])
    out1 = cell.nodes[0](x, row, [0, 1, 2])
    out3 = cell.nodes[0](x, [3 * w for w in row], [0, 1, 2])
    assert torch.allclose(out3, 3 * out1)  # no softmax over the ops
    # the cell output is affine in an input-edge weight β (no softmax over the inputs)
    s = torch.randn(1, 4, 8, 8, dtype=torch.float64)
    r = EDGE_ROW[6, 0]

    def out(beta):
        alpha = net.alpha.detach().clone()
        alpha[r, ON] = beta
        return cell(s, [list(a) for a in alpha], net.active)

    f0, f1, f3 = out(0.0), out(1e-3), out(3e-3)
    assert torch.allclose(f3 - f1, 2 * (f1 - f0))
    assert not torch.allclose(f1, f0)


def test_removed_candidate_leaves_the_sum():
    torch.manual_seed(2)
    net = tiny().build_supernet(1e-3, torch.float64, CPU)
    x = torch.randn(1, 4, 8, 8, dtype=torch.float64)
    cell = net.cells[0]
    before = cell(x, net.alpha_weights(), net.active)
    net.remove(2, 1)  # node 3 loses conv1x1
    assert 1 not in net.active[2]
    after = cell(x, net.alpha_weights(), net.active)
    node3 = slice(2 * 4, 3 * 4)  # the cell output concatenates the 5 nodes (C=4 channels each)
    assert (before[:, node3] - after[:, node3]).abs().max() > 0
    assert torch.equal(before[:, : 2 * 4], after[:, : 2 * 4])  # nodes 1, 2 untouched


def test_synflow_oneshot_gives_a_valid_architecture():
    space = tiny()
    torch.manual_seed(3)
    net = space.build_supernet(1e-3, torch.float64, CPU)
    found = OneShot()(net, score, space)
    scores = found.rounds[0].scores
    check_scores(scores, net.mask, space.edges, space.ops)
    assert torch.isfinite(scores[net.mask]).all() and (scores[net.mask] > 0).all()
    assert torch.isnan(scores[~net.mask]).all()
    assert_valid(found.choice)
    # the rule: argmax op per node, the strongest inputs per vertex
    for r in range(NODES):
        assert found.choice[r] == int(scores[r, :3].argmax())
    for dst in range(2, 7):
        rows = [EDGE_ROW[dst, s] for s in range(dst)]
        best = sorted(rows, key=lambda r: -float(scores[r, ON]))[: PARENTS[dst]]
        assert {r for r in rows if found.choice[r] == ON} == set(best)
    h = space.decode(found.choice)
    assert len(h) == 32 and int(h, 16) >= 0


def test_synflow_iterative_ends_discrete_and_valid():
    space = tiny()
    torch.manual_seed(4)
    net = space.build_supernet(1e-3, torch.float64, CPU)
    found = Iterative()(net, score, space)
    assert space.is_discrete(net.mask)
    assert len(found.rounds) == NODES * (len(OPS) - 1)  # 10 removals, one per round
    assert all(r.removed[0] < NODES and r.removed[1] < 3 for r in found.rounds)
    assert all(is_valid(r.choice) for r in found.rounds)
    assert_valid(found.choice)
    kept = [int(net.mask[r, :3].nonzero()) for r in range(NODES)]
    assert found.choice[:NODES] == kept


def test_discretise_takes_the_strongest_inputs_and_ties_to_the_lower_source():
    space = NB1Shot1Space()
    mask = torch.zeros(25, 5, dtype=torch.bool)
    mask[:5, :3] = True
    mask[5:, ON] = True
    scores = torch.full((25, 5), float("nan"), dtype=torch.float64)
    scores[:5, :3] = torch.tensor([[1, 3, 2], [5, 4, 0], [0, 0, 9], [1, 1, 1], [2, 3, 3.0]])
    for dst, src in EDGE_PAIRS:
        scores[EDGE_ROW[dst, src], ON] = float(src)  # later sources stronger
    scores[EDGE_ROW[6, 0], ON] = 100.0
    scores[EDGE_ROW[4, 1], ON] = scores[EDGE_ROW[4, 2], ON] = scores[EDGE_ROW[4, 3], ON] = 7.0
    choice = space.discretise(scores, mask)
    assert choice[:5] == [1, 0, 2, 0, 1]
    assert parents_of(choice) == {1: [0], 2: [1], 3: [2], 4: [1, 2], 5: [3, 4], 6: [0, 5]}
    assert_valid(choice)
    # a removed candidate is never chosen
    mask[EDGE_ROW[6, 5], ON] = False
    assert parents_of(space.discretise(scores, mask))[6] == [0, 4]
    mask[[EDGE_ROW[6, s] for s in range(5)], ON] = False
    with pytest.raises(ValueError):
        space.discretise(scores, mask)


def test_is_discrete_looks_at_the_node_ops():
    space = NB1Shot1Space()
    mask = torch.zeros(25, 5, dtype=torch.bool)
    mask[:5, 1] = True
    mask[5:, ON] = True
    assert space.is_discrete(mask)
    mask[3, 2] = True
    assert not space.is_discrete(mask)


def test_space_counts():
    counts = count_architectures(hashes=False)
    assert counts["graphs"] == 1 * 2 * 3 * 6 * 10 * 15 == 5400
    assert counts["configurations"] == 5400 * 3**5 == 1_312_200
    assert counts["paper_count"] == 363_648  # NAS-Bench-1Shot1's figure for space 3
    assert counts["pruned_matrices"] == 876


# ----------------------------------------------------------------------------- NB101 hash

INCEPTION = np.array(
    [
        [0, 1, 1, 1, 0, 1, 0],  # NAS-Bench-101 README example
        [0, 0, 0, 0, 0, 0, 1],
        [0, 0, 0, 0, 0, 0, 1],
        [0, 0, 0, 0, 1, 0, 0],
        [0, 0, 0, 0, 0, 0, 1],
        [0, 0, 0, 0, 0, 0, 1],
        [0, 0, 0, 0, 0, 0, 0],
    ]
)
INCEPTION_OPS = [
    "input",
    "conv1x1-bn-relu",
    "conv3x3-bn-relu",
    "conv3x3-bn-relu",
    "conv3x3-bn-relu",
    "maxpool3x3",
    "output",
]
INCEPTION_LABELS = [-1, 1, 0, 0, 0, 2, -2]


def permuted(matrix, labels, perm):
    """Vertex v of the original graph becomes vertex perm[v]."""
    n = len(matrix)
    out = np.zeros_like(matrix)
    new_labels = [None] * n
    for u in range(n):
        new_labels[perm[u]] = labels[u]
        for v in range(n):
            out[perm[u], perm[v]] = matrix[u, v]
    return out, new_labels


def test_hash_is_invariant_under_vertex_permutation():
    h = module_hash(INCEPTION, INCEPTION_LABELS)
    assert len(h) == 32 and all(c in "0123456789abcdef" for c in h)
    rng = np.random.default_rng(0)
    for _ in range(10):
        perm = list(rng.permutation(7))
        assert module_hash(*permuted(INCEPTION, INCEPTION_LABELS, perm)) == h
    # the NB101 "Inception" vertices 1 and 2 hang off input and output alike: swapping their
    # ops only relabels the graph
    swapped = [-1, 0, 1, 0, 0, 2, -2]
    assert module_hash(INCEPTION, swapped) == h


def test_hash_sees_a_changed_op_or_edge():
    h = module_hash(INCEPTION, INCEPTION_LABELS)
    changed_op = list(INCEPTION_LABELS)
    changed_op[5] = 1  # maxpool -> conv1x1
    assert module_hash(INCEPTION, changed_op) != h
    changed_op = list(INCEPTION_LABELS)
    changed_op[3] = 1  # first conv3x3 of the 5x5 path -> conv1x1
    assert module_hash(INCEPTION, changed_op) != h
    moved = INCEPTION.copy()
    moved[0, 5], moved[1, 5] = 0, 1  # maxpool reads node 1 instead of the input
    moved[1, 6] = 1
    assert module_hash(moved, INCEPTION_LABELS) != h


def test_decode_ignores_loose_ends_and_isomorphic_cells_share_a_hash():
    ops = ["conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3", "conv3x3-bn-relu", "maxpool3x3"]
    base = {2: [0], 3: [0], 4: [2, 3], 5: [0, 1], 6: [4, 5]}
    a = choice_from(base, ops)
    assert_valid(a)
    # nodes 2 and 3 both read the input and feed node 4: swapping their ops is the same cell
    b = choice_from(base, [ops[0], ops[2], ops[1], ops[3], ops[4]])
    assert hash_of(a) == hash_of(b)
    # node 3 becomes a loose end (node 4 reads 1, 2): its op no longer matters
    loose = {2: [0], 3: [0], 4: [1, 2], 5: [0, 1], 6: [4, 5]}
    c = choice_from(loose, ops)
    d = choice_from(loose, ops[:2] + ["conv3x3-bn-relu"] + ops[3:])
    assert hash_of(c) == hash_of(d) != hash_of(a)
    matrix, labels = pruned_spec(adjacency(c), ["input", *ops, "output"])
    assert len(matrix) == 6 and labels == ["input", ops[0], ops[1], ops[3], ops[4], "output"]


def canonical(matrix, labels):
    """Brute-force isomorphism class: the smallest (matrix, labels) over all orders of the
    interior vertices (input first, output last)."""
    n = len(matrix)
    best = None
    for order in itertools.permutations(range(1, n - 1)):
        perm = [0] + list(order) + [n - 1]
        m, lab = permuted(matrix, labels, perm)
        key = (tuple(m.flatten()), tuple(lab))
        best = key if best is None or key < best else best
    return best


def test_hash_classes_match_brute_force_isomorphism():
    rng = np.random.default_rng(1)
    options = [list(itertools.combinations(range(v), PARENTS[v])) for v in range(2, 7)]
    specs = []
    for _ in range(40):
        parents = {v: options[v - 2][rng.integers(len(options[v - 2]))] for v in range(2, 7)}
        labels = [int(x) for x in rng.integers(3, size=5)]
        choice = choice_from(parents, [OPS[k] for k in labels])
        matrix, names = pruned_spec(adjacency(choice), [-1, *labels, -2])
        specs.append((matrix, names))
        perm = [0, *rng.permutation(range(1, len(matrix) - 1)), len(matrix) - 1]
        specs.append(permuted(matrix, names, perm))  # an isomorphic copy
    hashes = [module_hash(m, lab) for m, lab in specs]
    classes = [canonical(m, lab) for m, lab in specs]
    for i in range(len(specs)):
        for j in range(i):
            assert (hashes[i] == hashes[j]) == (classes[i] == classes[j])
    assert len(set(hashes)) > 20


def test_decode_is_deterministic_for_a_fixed_seed():
    space = tiny()
    archs = []
    for _ in range(2):
        torch.manual_seed(11)
        net = space.build_supernet(1e-3, torch.float64, CPU)
        archs.append(space.decode(OneShot()(net, score, space).choice))
    assert archs[0] == archs[1]


# ----------------------------------------------------------------------------- results


def test_nb101_network_parameters_match_the_benchmark():
    # NAS-Bench-101's README query of its Inception-like cell: trainable_parameters 2694282
    with torch.device("meta"):
        net = NB101Network(*pruned_spec(INCEPTION, INCEPTION_OPS))
    assert sum(p.numel() for p in net.parameters()) == 2_694_282


def test_describe_and_draw(tmp_path):
    space = NB1Shot1Space()
    ops = ["conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3", "conv3x3-bn-relu", "maxpool3x3"]
    loose = {2: [0], 3: [0], 4: [1, 2], 5: [0, 1], 6: [4, 5]}
    choice = choice_from(loose, ops)
    info = space.describe(choice)
    rows = info["adjacency"].split("|")
    assert len(rows) == 7 and all(len(r) == 7 for r in rows)
    assert rows[0] == "0110010" and rows[3] == "0000000"  # vertex 3 is a loose end: dropped
    assert info["ops"].split(",") == ["input", *ops, "output"]
    assert info["module_hash"] == space.decode(choice)
    assert 0.1 < info["params_m"] < 50
    paths = space.draw(choice, tmp_path)
    assert paths == [tmp_path / "cell.png", tmp_path / "cell.pdf"]
    assert all(p.stat().st_size > 0 for p in paths)


def test_lookup_through_a_table(tmp_path):
    space = tiny()
    torch.manual_seed(5)
    net = space.build_supernet(1e-3, torch.float64, CPU)
    arch = space.decode(OneShot()(net, score, space).choice)
    other = hash_of(choice_from({2: [0], 3: [0], 4: [2, 3], 5: [0, 1], 6: [4, 5]}, OPS + OPS[:2]))
    table = tmp_path / "nb101.csv"
    rows = [f"{arch},94.1,93.5"] + ([f"{other},90.0,89.5"] if other != arch else [])
    table.write_text("module_hash,validation_accuracy,test_accuracy\n" + "\n".join(rows) + "\n")
    bench = TableBenchmark(
        table,
        arch_column="module_hash",
        columns={"cifar10_valid": "validation_accuracy", "cifar10_test": "test_accuracy"},
    )
    row = bench.query(arch)
    assert row["cifar10_valid"] == 94.1 and row["cifar10_test"] == 93.5
    assert np.isnan(row["cifar100_test"])


def test_configs_instantiate(tmp_path):
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    cfg = OmegaConf.load(REPO / "conf" / "space" / "nb1shot1.yaml")
    cfg.num_classes = 10
    space = instantiate(cfg)
    assert isinstance(space, NB1Shot1Space) and space.name == "nb1shot1"
    assert (space.C, space.cells_per_stack, space.input_size) == (16, 3, 32)
    assert space.removals in ("op", "edge")

    table = tmp_path / "t.csv"
    h = module_hash(INCEPTION, INCEPTION_LABELS)
    table.write_text(f"module_hash,validation_accuracy,test_accuracy\n{h},93.76,93.12\n")
    bench_cfg = OmegaConf.load(REPO / "conf" / "benchmark" / "nb101_table.yaml")
    bench_cfg.path = str(table)
    bench = instantiate(bench_cfg)
    assert bench.query(h)["cifar10_test"] == 93.12
    if hasattr(bench, "covers"):  # benchmarks name the spaces they know
        assert bench.covers("nb1shot1")


def test_every_valid_choice_builds_a_nb101_spec():
    space = NB1Shot1Space()
    seen = set()
    for combo in itertools.islice(
        itertools.product(*[itertools.combinations(range(v), PARENTS[v]) for v in range(2, 7)]),
        0,
        5400,
        97,
    ):
        choice = choice_from(dict(zip(range(2, 7), combo, strict=True)), OPS + OPS[:2])
        assert_valid(choice)
        seen.add(space.decode(choice))
    assert len(seen) > 10
    assert OFF == 3 and ON == 4
