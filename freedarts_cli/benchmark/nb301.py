"""benchmark=nb301: the NAS-Bench-301 surrogate (Siems et al.) for DARTS-space genotypes.

An optional extra (``pip install -e '.[nb301]'``, the ``nasbench301`` package and its model
files, which are not shipped here): ``benchmark.path`` names one model folder such as
``nb_models/xgb_v1.0``. The surrogate predicts the CIFAR-10 validation accuracy (%) of the
genotype trained with the DARTS protocol; it goes into ``cifar10_valid``.

The model folder is read by nasbench301's own ``load_ensemble`` (its model loaders are not
checked here, so use only the official model files).
"""

from __future__ import annotations

from collections import namedtuple

from ..errors import UserError
from . import Benchmark, empty_row, log, require_path


class NB301Benchmark(Benchmark):
    name = "nb301"
    spaces = ("darts", "darts_20cells", "darts_imagenet")

    def __init__(self, path=None, with_noise: bool = False):
        path = require_path(
            path, "nb301", "a NAS-Bench-301 model folder, e.g. nb_models/xgb_v1.0", is_dir=True
        )
        try:
            import nasbench301
        except ImportError:
            raise UserError(
                "benchmark=nb301 needs the optional nasbench301 package: "
                "pip install -e '.[nb301]' (then its model files)"
            ) from None
        self.source = str(path)
        self.with_noise = bool(with_noise)
        self._model = nasbench301.load_ensemble(str(path))
        # nasbench301 reads the genotype's fields by name, as DARTS' namedtuple has them.
        self._genotype = namedtuple("Genotype", "normal normal_concat reduce reduce_concat")
        log.info("NAS-Bench-301 surrogate %s loaded", path)

    def query(self, arch: str) -> dict:
        from ..genotype import parse_genotype
        from ..spaces.darts import OPS

        g = parse_genotype(arch, OPS)
        config = self._genotype(g.normal, list(g.normal_concat), g.reduce, list(g.reduce_concat))
        row = empty_row()
        row["cifar10_valid"] = float(
            self._model.predict(
                config=config, representation="genotype", with_noise=self.with_noise
            )
        )
        return row
