#!/usr/bin/env bash
# The CPU-sized pass over the published NB201 experiments that produced the README's tables and
# figures (2-core CPU, about 2 h). Each experiment config keeps the paper's settings; here the
# slow rows run with fewer seeds and smaller settings, and `freedarts tables` labels every cell
# that differs from the paper ("ours at k=v (paper p)", "ours on real CIFAR-10, subset: ...").
# Image-reading rows read real CIFAR-10 from $FREEDARTS_DATA (default: the workspace's subset,
# ../shared/data/cifar10_subset; point it at a full cifar-10-batches-py parent for the real thing).
#
#   bash scripts/cpu_tables.sh [benchmark.path=/path/to/table.csv]   # then: bash scripts/cpu_tables.sh tables
#   ONLY=conf_table2/freedarts,journal_table3/snip bash scripts/cpu_tables.sh   # some parts only
#
# Runs go to outputs/experiments/<experiment>/cpu/<part>; two joblib workers, one torch thread
# each, so every method's search_seconds is measured under the same conditions in one pass.
set -euo pipefail
cd "$(dirname "$0")/.."
FD=${FREEDARTS:-.venv/bin/freedarts}
OUT=outputs/experiments
EXTRA=("$@")
DATA_ROOT=${FREEDARTS_DATA:-../shared/data/cifar10_subset}
ONLY=${ONLY:-}

sweep() {  # sweep <experiment> <part> <overrides...>
  local exp=$1 part=$2; shift 2
  if [ -n "$FROM" ] && [ "$exp/$part" != "$FROM" ]; then echo "== skip $exp/$part"; return; fi
  FROM=""
  if [ -n "$ONLY" ] && [[ ",$ONLY," != *",$exp/$part,"* ]]; then return; fi
  echo "== $exp/$part: $*"
  "$FD" search -m "experiment=$exp" hydra/launcher=joblib hydra.launcher.n_jobs=2 \
    "hydra.sweep.dir=$OUT/$exp/cpu/$part" "data.root=$DATA_ROOT" "$@" "${EXTRA[@]}"
}

tables() {
  "$FD" tables "$OUT/conf_table1" table=conf_table1
  "$FD" tables "$OUT/conf_table1" "$OUT/journal_table2" table=journal_table2
  "$FD" tables "$OUT/conf_table2" "$OUT/journal_table3" "$OUT/conf_table1" table=conf_table2
  "$FD" tables "$OUT/journal_table3" "$OUT/conf_table1" table=journal_table3
  "$FD" tables "$OUT/zcpt_table2" "$OUT/sample_size" "$OUT/conf_table1" table=zcpt_table2
  "$FD" tables "$OUT/zcpt_table5" "$OUT/zcpt_table2" table=zcpt_table5
  "$FD" tables "$OUT/nats_search" table=nats_search
  "$FD" figures "$OUT/sample_size" "$OUT/conf_table2" "$OUT/conf_table1" figure=sample_size
  "$FD" figures "$OUT/conf_table1" "$OUT/journal_table2" "$OUT/nats_search" figure=cost_accuracy
}
if [ "${1:-}" = tables ]; then tables; exit; fi
# `bash scripts/cpu_tables.sh from <part>` skips the sweeps before that one (e.g. after a stop).
FROM=""
if [ "${1:-}" = from ]; then FROM=$2; shift 2; EXTRA=("$@"); fi

ZCPT_CPU=(++method.n_proposals=2 ++method.n_validation=10 ++method.batch_size=16)  # ++: joblib composes the base config first

# Conference Table 1 / journal Table 2: cheap rows on seeds 0-9, slow rows on seeds 0-4.
sweep conf_table1 cheap '+experiment/row=random,zc_synflow_n100,fd_oneshot_synflow' 'seed=range(10)'
sweep journal_table2 iterative '+experiment/row=fd_iterative_synflow' 'seed=range(10)'
sweep conf_table1 zcpt '+experiment/row=zcpt_synflow_random' 'seed=range(10)' "${ZCPT_CPU[@]}"
sweep conf_table1 naswot '+experiment/row=naswot_n100' 'seed=range(10)'
sweep conf_table1 tenas '+experiment/row=tenas' 'seed=range(5)' method.ntk_batch=16 data.batch_size=64
# The random baseline is a noisy estimate of the space's mean: 90 more draws.
sweep conf_table1 random_more '+experiment/row=random' 'seed=range(10,100)'

# Journal Table 3: one-shot vs iterative x ZEROS / ZEROS-L (ZEROS-D = the synflow rows above),
# seeds 0-9; iterative SNIP-alpha costs ~1.5 min per run here (24 rounds on 64 images, float32,
# one thread).
sweep journal_table3 snip '+experiment/row=fd_oneshot_snip,fd_oneshot_snip_random_labels' 'seed=range(10)'
sweep journal_table3 snip_iterative '+experiment/row=fd_iterative_snip,fd_iterative_snip_random_labels' 'seed=range(10)'

# Conference Table 2: FreeDARTS x GraSP (the authors' and the textbook form) and zero-cost NAS x
# SNIP on seeds 0-9 (FreeDARTS x SNIP: the journal_table3 runs);
# zero-cost GraSP (N=100, ~5 min per run here) on seeds 0-2.
sweep conf_table2 freedarts '+experiment/row=fd_oneshot_grasp_authors,fd_oneshot_grasp' 'seed=range(10)'
sweep conf_table2 zero_cost '+experiment/row=zc_snip_n100' 'seed=range(10)'
sweep conf_table2 zero_cost_grasp '+experiment/row=zc_grasp_n100' 'seed=range(3)'

# Sample-size figure: synflow N=10 / 1000 on seeds 0-4 (N=100 above); SNIP / GraSP N=10 on 0-2.
sweep sample_size synflow '+experiment/row=zc_synflow_n10,zc_synflow_n1000' 'seed=range(5)'
sweep sample_size small '+experiment/row=zc_snip_n10,zc_grasp_n10' 'seed=range(3)'

# Zero-Cost-PT Tables 2 and 5, CPU-sized, seeds 0-3 as in the paper (Table 2's zero-cost N=1000
# row: the sample-size runs).
sweep zcpt_table2 proxies '+experiment/row=zcpt_fisher_random,zcpt_grad_norm_random,zcpt_grasp_random,zcpt_snip_random,zcpt_nwot_random' 'seed=range(4)' "${ZCPT_CPU[@]}"
sweep zcpt_table5 orders '+experiment/row=zcpt_nwot_fixed,zcpt_nwot_global_op_iter,zcpt_nwot_global_op_once,zcpt_nwot_global_edge_iter,zcpt_nwot_global_edge_once' 'seed=range(4)' "${ZCPT_CPU[@]}"

# NATS study: the synflow rows at the published M=500 on seeds 0-2; hook_logdet / snip / combined
# at M=50 (population 16, tournament 4, warm-up 32) on seeds 0-2 (~1 s per architecture here on
# 128 real images).
sweep nats_search synflow '+experiment/row=rs_synflow,ae_synflow,aew_synflow' 'seed=range(3)'
sweep nats_search small_rs '+experiment/row=rs_nwot,rs_snip,rs_combined' 'seed=range(3)' ++method.n_models=50
sweep nats_search small_ae '+experiment/row=ae_nwot,ae_snip,ae_combined' 'seed=range(3)' ++method.n_models=50 ++method.population=16 ++method.tournament=4
sweep nats_search small_aew '+experiment/row=aew_nwot,aew_snip,aew_combined' 'seed=range(3)' ++method.n_models=50 ++method.population=16 ++method.tournament=4 ++method.warmup=32

[ -n "${SKIP_TABLES:-}" ] || tables  # SKIP_TABLES=1: sweeps only (e.g. one ONLY part at a time)
