"""Search: spaces of candidate networks, the objective, and the studies over them.

One module per concept, as Optuna's own ``samplers`` package: :mod:`.space` (candidates as data),
:mod:`.objective` (the score), :mod:`.config` (a find-base run's settings, sampler and pruner),
:mod:`.trial` (one trial), :mod:`.evaluators` (how a candidate gets its accuracy), :mod:`.driver`
(open or resume a study, local workers, parallel jobs), :mod:`.storage` (where workers share a
study), :mod:`.trial_states` (which trials count), :mod:`.workers` (slots, dead workers' retries),
:mod:`.finalists`, :mod:`.analysis`, :mod:`.results`, :mod:`.find_base` and :mod:`.grid` (the two
studies), :mod:`.compare`.
"""

from scalesearch.search.config import SAMPLERS, SearchConfig, validate
from scalesearch.search.find_base import search
from scalesearch.search.objective import Objective
from scalesearch.search.space import SearchSpace, load_space

__all__ = ["SAMPLERS", "Objective", "SearchConfig", "SearchSpace", "load_space", "search", "validate"]
