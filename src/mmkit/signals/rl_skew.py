"""Bounded RL skew agent (seed report section 7, "RL Agent Exploration Risk").

Tabular Q-learning over a small discrete state and action space:

* **state** - inventory bucket (``position / max_position`` in 5 buckets) x trade-flow sign
  (3) x stress (cascade flag or kappa stagnation alert: 2) = 30 states;
* **action** - one of ``skew_levels`` skews spread evenly over ``[-1, +1]`` x
  ``action_bound_sigma * sigma`` times one of ``size_scales``. ``skew_shift`` is clamped to
  ``|skew_shift| <= action_bound_sigma * sigma`` on every path (0 when sigma is not usable);
* **reward** over a decision interval - mark-to-market P&L change in bp of the
  ``max_position`` notional minus ``inventory_penalty * (position / max_position)^2``;
* **exploration** - epsilon-greedy from a seeded generator, epsilon decaying to
  ``epsilon_min``, and an exploratory action never more than ``explore_radius`` steps from
  the greedy one in either dimension.

The agent only publishes ``skew_shift`` and ``size_scale``: the quoter turns them into a
ladder and the executor's rate tracker and budget still gate every submission, so
exploration cannot send anything by itself. The Q table, visit counts, epsilon and decision
count are restored from ``state_path`` at build (when the file exists) and saved there every
``save_interval_s`` and by :meth:`RlSkewAgent.save` (atomic: temporary file + rename).
"""

from __future__ import annotations

import json
import logging
import math
import os
import random
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mmkit.components import DECLARABLE_KINDS, Estimates
from mmkit.core.events import Event, EventKind, OwnFill, PositionSnapshot
from mmkit.core.types import Side
from mmkit.errors import ConfigError
from mmkit.registry import BuildContext
from mmkit.signals.features import MicrostructureState
from mmkit.signals.params import RlSkewParams

if TYPE_CHECKING:
    from mmkit.signals.adverse_selection_twin import RlSkewTwin

log = logging.getLogger(__name__)

STATE_VERSION = 1
#: the half-lives of the agent's microstructure features (trade flow s, volatility s,
#: markouts in fills)
FEATURE_HALF_LIVES = (5.0, 30.0, 20.0)
_INV_EDGES = (-0.5, -0.1, 0.1, 0.5)
_FLOW_EDGE = 0.2
N_STATES = (len(_INV_EDGES) + 1) * 3 * 2


class RlSkewAgent:
    #: what it writes (audit contract :class:`mmkit.components.DeclaresPublishes`); its
    #: ``action_bound_sigma`` is the :class:`mmkit.components.BoundedSkew` contract
    publishes = frozenset({"skew_shift", "size_scale", "rl.*"})
    #: its own fills and the venue's position (its inventory), the top of book and trades
    #: (its features); nothing else is delivered to it
    #: (:class:`mmkit.components.DeclaresIgnores`)
    ignores = DECLARABLE_KINDS - {
        EventKind.OWN_FILL,
        EventKind.POSITION_SNAPSHOT,
        EventKind.BBO,
        EventKind.BOOK_SNAPSHOT,
        EventKind.TRADE,
    }

    def __init__(self, params: RlSkewParams, max_position: float, seed: int = 0) -> None:
        self.params = p = params
        if not p.size_scales or not all(0.0 <= s <= 10.0 for s in p.size_scales):
            raise ConfigError([f"rl_skew: size_scales must be in [0, 10], got {p.size_scales}"])
        self.action_bound_sigma = p.action_bound_sigma
        self.max_position = p.max_position if p.max_position > 0 else max_position
        if not (0.0 < self.max_position < math.inf):
            raise ConfigError([f"rl_skew: max_position must be > 0, got {self.max_position}"])
        n = p.skew_levels
        self.skews = [0.0] if n == 1 else [-1.0 + 2.0 * i / (n - 1) for i in range(n)]
        self.sizes = [float(s) for s in p.size_scales]
        self.n_actions = len(self.skews) * len(self.sizes)
        self.q = np.zeros((N_STATES, self.n_actions))
        self.visits = np.zeros((N_STATES, self.n_actions), dtype=np.int64)
        self.epsilon = p.epsilon
        self.decisions = 0
        self.rng = random.Random(seed)
        self._built_with = (max_position, seed)  # for twin(): the same arguments
        self.features = MicrostructureState(*FEATURE_HALF_LIVES)
        self.position = 0.0
        self.cash = 0.0
        self._dt = round(p.decision_interval_s * 1e9)
        self._save_ns = round(p.save_interval_s * 1e9)
        self._next_decision = -1
        self._next_save = -1
        self._last: tuple[int, int, float] | None = None  # state, action, mtm
        self.action = self._neutral_action()
        self.explored = 0
        self.state_path = Path(p.state_path) if p.state_path else None
        self._said_unsaved = False
        if self.state_path is not None and self.state_path.exists():
            self.load(self.state_path)

    def twin(self) -> RlSkewTwin:
        """The compiled twin (:class:`mmkit.signals.adverse_selection_twin.RlSkewTwin`):
        same parameters, fresh state."""
        from mmkit.signals.adverse_selection_twin import RlSkewTwin

        return RlSkewTwin(self.params, *self._built_with)

    # -- actions --------------------------------------------------------------------------
    def _split(self, a: int) -> tuple[int, int]:
        return divmod(a, len(self.sizes))

    def _join(self, i_skew: int, i_size: int) -> int:
        return i_skew * len(self.sizes) + i_size

    def _neutral_action(self) -> int:
        i_skew = min(range(len(self.skews)), key=lambda i: abs(self.skews[i]))
        i_size = min(range(len(self.sizes)), key=lambda i: abs(self.sizes[i] - 1.0))
        return self._join(i_skew, i_size)

    def greedy(self, s: int) -> int:
        """Best action of state ``s``; ties go to the action closest to neutral."""
        row = self.q[s]
        best = float(row.max())
        ns, nz = self._split(self._neutral_action())
        ties = [a for a in range(self.n_actions) if row[a] >= best - 1e-12]
        return min(ties, key=lambda a: abs(self._split(a)[0] - ns) + abs(self._split(a)[1] - nz))

    def choose(self, s: int) -> int:
        g = self.greedy(s)
        if self.rng.random() >= self.epsilon:
            return g
        self.explored += 1
        r = self.params.explore_radius
        gs, gz = self._split(g)
        i_skew = min(len(self.skews) - 1, max(0, gs + self.rng.randint(-r, r)))
        i_size = min(len(self.sizes) - 1, max(0, gz + self.rng.randint(-r, r)))
        return self._join(i_skew, i_size)

    # -- state ----------------------------------------------------------------------------
    def state(self, stressed: bool) -> int:
        q = self.position / self.max_position
        inv = sum(1 for e in _INV_EDGES if q > e) if math.isfinite(q) else 2
        f = self.features.flow
        flow = 0 if f < -_FLOW_EDGE else (2 if f > _FLOW_EDGE else 1)
        return (inv * 3 + flow) * 2 + (1 if stressed else 0)

    def mtm(self) -> float:
        mid = self.features.mid
        return self.cash + self.position * mid if mid > 0 else math.nan

    # -- events ---------------------------------------------------------------------------
    def on_event(self, event: Event, now_ns: int) -> None:
        k = event.kind
        if k is EventKind.OWN_FILL:
            assert isinstance(event, OwnFill)
            f = event
            if 0.0 < f.px < math.inf and 0.0 < f.sz < math.inf and math.isfinite(f.fee):
                sgn = 1.0 if f.side is Side.BUY else -1.0
                self.position += sgn * f.sz
                self.cash -= sgn * f.px * f.sz + f.fee
        elif k is EventKind.POSITION_SNAPSHOT:
            assert isinstance(event, PositionSnapshot)
            if math.isfinite(event.position):
                self.position = event.position
        else:
            self.features.on_event(event, now_ns)

    def _decide(self, stressed: bool, now_ns: int) -> None:
        s = self.state(stressed)
        mtm = self.mtm()
        p = self.params
        if self._last is not None and math.isfinite(mtm):
            s0, a0, m0 = self._last
            notional = self.features.mid * self.max_position
            q = self.position / self.max_position
            reward = 1e4 * (mtm - m0) / notional - p.inventory_penalty * q * q
            if math.isfinite(reward):
                target = reward + p.discount * float(self.q[s].max())
                self.q[s0, a0] += p.learning_rate * (target - self.q[s0, a0])
                self.visits[s0, a0] += 1
        self.action = self.choose(s)
        self.decisions += 1
        self.epsilon = max(p.epsilon_min, self.epsilon * p.epsilon_decay)
        self._last = (s, self.action, mtm) if math.isfinite(mtm) else None

    def estimate(self, out: Estimates, now_ns: int) -> None:
        stressed = bool(out.cascade) or out.extras.get("kappa.stagnation_alert", 0.0) > 0
        if self._next_decision < 0 or now_ns >= self._next_decision:
            self._decide(stressed, now_ns)
            self._next_decision = now_ns + self._dt
        i_skew, i_size = self._split(self.action)
        sigma = out.sigma
        bound = self.action_bound_sigma * sigma if 0.0 < sigma < math.inf else 0.0
        skew = self.skews[i_skew] * bound
        out.skew_shift = max(-bound, min(bound, skew)) if math.isfinite(skew) else 0.0
        out.size_scale = self.sizes[i_size]
        ex = out.extras
        ex["rl.action"] = float(self.action)
        ex["rl.epsilon"] = self.epsilon
        ex["rl.decisions"] = float(self.decisions)
        ex["rl.bound"] = bound
        if self.state_path is not None and (self._next_save < 0 or now_ns >= self._next_save):
            if self._next_save >= 0:
                self.save()
            self._next_save = now_ns + self._save_ns

    # -- persistence ----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "skews": self.skews,
            "sizes": self.sizes,
            "n_states": N_STATES,
            "q": self.q.tolist(),
            "visits": self.visits.tolist(),
            "epsilon": self.epsilon,
            "decisions": self.decisions,
        }

    def save(self, path: str | Path | None = None) -> Path | None:
        """Write the state atomically (temporary file in the same directory, then rename)
        to ``path``, else to ``state_path``; with neither (no ``state_path`` configured:
        the engine calls this at the end of every run) nothing is written, it says so once
        in the log, and None is returned."""
        target = Path(path) if path is not None else self.state_path
        if target is None:
            if not self._said_unsaved:
                self._said_unsaved = True
                log.info(
                    "rl_skew: no state_path configured, so the agent's learned table is not "
                    "saved (set estimators.rl_skew.state_path to keep it across runs)"
                )
            return None
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=target.name + ".", suffix=".tmp", dir=target.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(self.to_dict(), fh)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return target

    def load(self, path: str | Path) -> None:
        where = f"rl_skew state file {path}"
        try:
            d = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError([f"{where}: cannot be read: {exc}"]) from exc
        if not isinstance(d, dict) or d.get("version") != STATE_VERSION:
            raise ConfigError([f"{where}: not a version {STATE_VERSION} agent state"])
        if d.get("skews") != self.skews or d.get("sizes") != self.sizes:
            raise ConfigError(
                [
                    f"{where}: saved actions (skews {d.get('skews')}, sizes {d.get('sizes')}) "
                    f"differ from the configured ones (skews {self.skews}, sizes {self.sizes})"
                ]
            )
        try:
            q = np.asarray(d["q"], dtype=np.float64)
            visits = np.asarray(d["visits"], dtype=np.int64)
            eps = float(d["epsilon"])
            decisions = int(d["decisions"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError([f"{where}: malformed: {exc}"]) from exc
        shape = (N_STATES, self.n_actions)
        if q.shape != shape or visits.shape != shape:
            raise ConfigError([f"{where}: Q table shape {q.shape}, expected {shape}"])
        if not (np.all(np.isfinite(q)) and 0.0 <= eps <= 1.0):
            raise ConfigError([f"{where}: non-finite Q values or epsilon {eps} outside [0, 1]"])
        self.q, self.visits, self.epsilon, self.decisions = q, visits, eps, decisions


def build(ctx: BuildContext[RlSkewParams]) -> RlSkewAgent:
    return RlSkewAgent(ctx.params, ctx.risk.max_position, ctx.seed)
