"""The RTRRL family's hyperparameters: `RTRRLConfig`, its reference-compatibility switches
(`Compat`), the paper's Table 1 (`TABLE1_SETTINGS`, the one place its values are written) and the
defaults of the family members the screen did not measure.

Docstrings say why a default is what it is; the measurements behind them, with their dates, are
in docs/agents.md ("Defaults, and where they depart from the paper") and docs/rtrrl_default.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from agents import ctrnn


@dataclass(frozen=True)
class Compat:
    """Switches that reproduce the authors' code where it departs from the algorithm as the paper
    states it (docs/compat.md). Each is off by default; `paper-code` turns them on. They are
    grouped so that `RTRRLConfig` reads as the algorithm's own hyperparameters, and they are set
    as `--set rtrrl.compat.<name>=true`."""

    wiring_traces: bool = False
    """[algorithm.md K10]: the reference's RFLO/RTRL traces ignore the wiring mask (the forward
    pass still applies it). Default: absent connections get no trace."""
    average_logprob_over_dims: bool = False
    """Reference quirk: average log-prob and entropy over action dims instead of summing."""
    rtrl_wrong_axis: bool = False
    """Reproduce the reference's wrong-axis RTRL weight gradient [algorithm.md K2]."""
    lru_b_trace: bool = False
    """[algorithm.md K3]: the reference's LRU B trace used log(gamma) x^T as its immediate term."""
    normalize_eval_only: bool = False
    """[algorithm.md K4]: with normalisation on, training sees raw inputs (statistics still
    update) and only evaluation normalises, as the later reference code did."""
    var_scaling_live_gradient: bool = False
    """[algorithm.md K7]: let the gradient flow through s, as the reference did."""
    prev_action_at_reset: bool = False
    """[algorithm.md K16]: at an episode start the reference fed the one-hot of action 0 in the
    previous-action slot (discrete actions) instead of a zero vector."""
    shared_action_key: bool = False
    """[algorithm.md K17]: one sampling key per step shared by all `num_envs` envs (identical noise)."""
    unclipped_eval: bool = False
    """[algorithm.md K18]: evaluation feeds the unclipped sample back as the previous action (the
    env wrapper still clips what it executes). Default: evaluation acts exactly as training."""
    lambda_rnn_zero: bool = False
    """[algorithm.md K19]: with lambda_rnn = 0 the reference sets z_R to the bare gradient, without
    the episodic factor I (matters only when `eta` is None)."""
    continuous_actor_gradient: bool = False
    """[algorithm.md K1]: differentiate log pi through a reparameterised sample, as the
    reference did; the actor's mean then never learns. Default: the score at the fixed sample."""
    eval_keeps_state: bool = False
    """[algorithm.md P5, S1]: evaluation keeps the RNN state and the previous action/reward slots
    across episode boundaries, as the paper-era code did. Default: they are reset exactly as in
    training, so that the score measures the policy training learned (an agent that has solved a
    memory task can score as if it had not under the kept state: docs/agents.md)."""


@dataclass(frozen=True)
class RTRRLConfig:
    hidden_size: int = 32
    """CT-RNN neurons ([algorithm.md T1]: 32)."""
    rnn: str = "ctrnn"
    """Recurrent core: 'ctrnn', 'lru' (online LRU, [algorithm.md A7]), or 'none' for Linear TD(lambda)
    (readouts on the Meta-RL input)."""
    gradient_mode: str = "rflo"
    """'rflo' (approximate, [algorithm.md A5]) or 'rtrl' (exact, [algorithm.md A6])."""
    f_align: bool = True
    """Send the RNN its learning signal through fixed random matrices B_A, B_C [algorithm.md A10]
    instead of the readouts K_A, K_C. The paper's RFLO column uses it; the RTRL branch of its
    Algorithm 2 does not [algorithm.md A16]."""
    meta_rl: bool = True
    """Input = [obs, previous action, previous reward] [algorithm.md A2]; False: obs only (ablation)."""
    train_rnn: bool = True
    """False freezes the RNN at its initialisation: only the readouts learn (ablation)."""
    gamma: float = 0.99
    """Discount ([algorithm.md T1])."""
    lambda_actor: float = 0.99
    """Actor trace decay lambda_A ([algorithm.md T1]); traces decay by gamma * lambda."""
    lambda_critic: float = 0.99
    """Critic trace decay lambda_C ([algorithm.md T1])."""
    lambda_rnn: float = 0.99
    """RNN trace decay lambda_R ([algorithm.md T1])."""
    lr_td: float = 1e-3
    """Adam step size of actor and critic ([algorithm.md T1]: 1e-3; the paper-era code had 1e-5); the critic's
    by default, the actor has its own (`lr_actor`)."""
    lr_rnn: float = 1e-4
    """Adam step size of the RNN. [algorithm.md T1]: 1e-3, at which Adam's steps of about lr per weight per
    step saturate the CT-RNN; 1e-4 from the screen (README: RTRRL's default, docs/rtrrl_default.md)."""
    lr_actor: float | None = 3e-4
    """Step size of K_A alone; None = `lr_td` ([algorithm.md T1] lists alpha_A and alpha_C, both 1e-3; the
    reference has one rate for both). Same Adam, per-group step size. 3e-4 from the screen: the
    actor slower than the critic, so the policy does not lock onto actions before the critic
    has learned what they are worth."""
    lr_critic: float | None = None
    """Step size of the critic alone; None = `lr_td`. Also the alpha of the dutch trace."""
    optimizer: str = "adam"
    """Update rule: 'adam' (the reference: optax Adam fed the ascent direction), 'sgd' (plain
    steps of size lr times the direction, as the paper's Algorithm 1 writes them) or 'obgd'
    (SGD whose step is bounded so that it cannot overshoot the TD error: `obgd_kappa`)."""
    optimizer_rnn: str | None = None
    """Update rule of the RNN alone; None = `optimizer`."""
    obgd_kappa: float = 2.0
    """'obgd' (Elsayed et al. 2024, overshooting-bounded gradient descent): each env's step of a
    parameter group (actor, critic, RNN) is lr * delta * z / max(1, lr * kappa * max(|delta|, 1) *
    ||z||_1): at most about 1/kappa of the TD error is corrected in one step, whatever the reward
    scale or the number of weights, and small traces take plain SGD steps (no drift from
    normalised directions, unlike Adam)."""
    reward_scaling: bool = False
    """Divide the reward in the TD error by the running standard deviation of the discounted return
    (a per-env accumulator u = gamma u + r, cleared at episode ends; Welford statistics over every
    env and step), so that step sizes mean the same on every task. The value then predicts scaled
    returns; the Meta-RL reward input is not affected (see `normalize_reward`)."""
    adam_eps: float = 1e-8
    """Adam's epsilon (optax default). Adam turns any direction of persistent sign into a step of
    about lr per weight, however small the direction; a larger epsilon lets small directions
    take small steps."""
    gradient_clip: float | None = None
    """Global-norm clip of each group's update direction before Adam. [algorithm.md T1] lists 1.0, both
    code snapshots (which produced the tables) have none. Off: a clip of 1.0 cuts exactly the large
    terminal TD errors that carry the learning signal, and Linear TD(lambda) collapses with it
    (docs/agents.md)."""
    trace_mode: str = "accumulate"
    """Eligibility traces: 'accumulate' (all groups, [algorithm.md A13]) or 'dutch' (the reference's critic-only
    dutch trace and correction, [algorithm.md A14]: non-standard, unsound under Adam; kept for reproduction)."""
    eta_pi: float = 1.0
    """Scale of the actor term in the TD objective ([algorithm.md T1] eta_A = 1)."""
    eta_f: float = 1.0
    """Scale of the RNN's TD update (0: the RNN learns from entropy only)."""
    entropy_rate: float = 1e-2
    """Entropy bonus, added to the update directly, not traced ([algorithm.md T1]: 1e-5). 1e-2 from the screen:
    it keeps the policy near uniform where TD errors are tiny (popgym's many-action games, where
    Table 1's setting collapses below the random agent). More trades memory for exploration
    (docs/rtrrl_default.md)."""
    eta: float | None = 0.0
    """Average-reward rate. 0 (code default, paper runs): plain discounted TD. None: episodic
    I = gamma^k weighting of new gradients. > 0: learn an average-reward baseline [algorithm.md A13, K5]."""
    dt: float = 1.0
    """Euler step of the CT-RNN (the reference hard-wires 1)."""
    wiring: str = "fully_connected"
    """Fixed CT-RNN connectivity [algorithm.md A8]: 'fully_connected' (paper), 'fully_connected_no_self',
    'random' (Bernoulli 0.5) or 'ncp' (inter-neurons get the inputs, sparsity 0.3)."""
    num_envs: int = 1
    """Environments per step, sharing parameters; updates are averaged ([algorithm.md T1]: batch size 1)."""
    sigma_mode: str = "paper"
    """Gaussian scale: 'paper' = 0.001 + 1.999 sigmoid (paper-era code), 'softplus' = later code."""
    normalize_obs: bool = True
    """Normalise observations with running statistics, the same transform in evaluation ([algorithm.md T1]:
    False). On from the screen: observations of very different scales (CartPole-pos's angle is a few
    hundredths) otherwise leave the CT-RNN a signal too small to learn from."""
    normalize_reward: bool = True
    """Normalise the reward *input feature* (never the TD target), in training and evaluation alike
    (the paper-era code had none; the later code applied it in evaluation only, [algorithm.md K4]).
    On from the screen, with `normalize_obs`."""
    var_scaling: bool = False
    """Continuous actions: scale the TD objective and entropy by s = min(mean sigma, 1) ([algorithm.md A11];
    not in the paper, on in the later code). Off by default; s is stop-gradiented."""
    bootstrap_truncation: bool = True
    """At a time-limit truncation, bootstrap the TD target from V of the state the final
    observation leads to (one extra core forward per step). False = the reference [algorithm.md K6]:
    a truncation ends bootstrapping exactly like a termination."""
    unroll: int = 1
    """`lax.scan` unroll of the training loop (speed only)."""
    compat: Compat = field(default_factory=Compat)
    """Reference-compatibility switches (`Compat`), all off: the algorithm as the paper states it."""

    def __post_init__(self) -> None:
        if self.rnn not in ("ctrnn", "lru", "none"):
            raise ValueError(f"rnn must be 'ctrnn', 'lru' or 'none' (got {self.rnn!r})")
        if self.gradient_mode not in ("rflo", "rtrl"):
            raise ValueError(f"gradient_mode must be 'rflo' or 'rtrl' (got {self.gradient_mode!r})")
        if self.trace_mode not in ("accumulate", "dutch"):
            raise ValueError(f"trace_mode must be 'accumulate' or 'dutch' (got {self.trace_mode!r})")
        if self.wiring not in ctrnn.WIRINGS:
            raise ValueError(f"wiring must be one of {', '.join(ctrnn.WIRINGS)} (got {self.wiring!r})")
        if self.wiring != "fully_connected" and self.rnn != "ctrnn":
            raise ValueError("wiring applies to the CT-RNN only (rnn='ctrnn')")
        for name, rule in (("optimizer", self.optimizer), ("optimizer_rnn", self.optimizer_rnn or "adam")):
            if rule not in ("adam", "sgd", "obgd"):
                raise ValueError(f"{name} must be 'adam', 'sgd' or 'obgd' (got {rule!r})")
        if self.obgd_kappa <= 0:
            raise ValueError(f"obgd_kappa must be positive (got {self.obgd_kappa})")
        if self.adam_eps <= 0:
            raise ValueError(f"adam_eps must be positive (got {self.adam_eps})")
        if self.sigma_mode not in ("paper", "softplus"):
            raise ValueError(f"sigma_mode must be 'paper' or 'softplus' (got {self.sigma_mode!r})")
        if self.hidden_size < 1 or self.num_envs < 1 or self.unroll < 1:
            raise ValueError("hidden_size, num_envs and unroll must be at least 1")
        if not 0.0 <= self.gamma <= 1.0 or not all(
            0.0 <= x <= 1.0 for x in (self.lambda_actor, self.lambda_critic, self.lambda_rnn)
        ):
            raise ValueError("gamma and the lambdas must lie in [0, 1]")
        if self.dt <= 0 or (self.gradient_clip is not None and self.gradient_clip <= 0):
            raise ValueError("dt and gradient_clip must be positive")
        if any(lr is not None and lr <= 0 for lr in (self.lr_td, self.lr_rnn, self.lr_actor, self.lr_critic)):
            raise ValueError("learning rates must be positive")

    def step_sizes(self) -> tuple[float, float, float]:
        """(actor, critic, RNN) step sizes: `lr_actor` and `lr_critic` fall back to `lr_td`."""
        actor = self.lr_td if self.lr_actor is None else self.lr_actor
        critic = self.lr_td if self.lr_critic is None else self.lr_critic
        return actor, critic, self.lr_rnn


TABLE1_SETTINGS: dict[str, Any] = dict(
    hidden_size=32,
    gamma=0.99,
    lambda_actor=0.99,
    lambda_critic=0.99,
    lambda_rnn=0.99,
    optimizer="adam",
    optimizer_rnn=None,
    adam_eps=1e-8,
    obgd_kappa=2.0,
    reward_scaling=False,
    lr_td=1e-3,
    lr_actor=None,
    lr_critic=None,
    lr_rnn=1e-3,
    gradient_clip=1.0,
    trace_mode="accumulate",
    eta_pi=1.0,
    eta_f=1.0,
    entropy_rate=1e-5,
    eta=0.0,
    dt=1.0,
    num_envs=1,
    meta_rl=True,
    train_rnn=True,
    normalize_obs=False,
    normalize_reward=False,
    var_scaling=False,
    f_align=True,
)
"""The paper's Table 1 [algorithm.md T1] in `RTRRLConfig`'s field names, the one place its values are
written: 32 neurons, gamma and every lambda 0.99, alpha_A = alpha_C = alpha_R = 1e-3 (Adam), gradient
norm clip 1.0, no learning-rate decay, entropy 1e-5, actor trace scale 1, dt 1, batch size 1, no
observation normalisation; the algorithms' accumulating traces, discounted TD error and feedback
alignment in the RFLO branch (Algorithm 2's RTRL branch has none: the presets and `RTRLConfig` say
so). Where the paper is silent (obgd, reward scaling, Adam's epsilon), the corrected defaults. The
`paper-table1` preset, `UnclippedTable1Config` and the `table1` records of
rtrrl_data/paper_tables.json (which reports read without importing agents; a test keeps them equal)
all derive from it."""


@dataclass(frozen=True)
class UnclippedTable1Config(RTRRLConfig):
    """Table 1 (`TABLE1_SETTINGS`) without its gradient clip: the defaults of the family members the screen
    behind `rtrrl`'s defaults did not cover (docs/rtrrl_default.md), measured before moved. The
    clip is off as in both code snapshots (`RTRRLConfig.gradient_clip`); every other field equals
    `TABLE1_SETTINGS` (a test checks)."""

    lr_rnn: float = TABLE1_SETTINGS["lr_rnn"]
    """1e-3, Table 1's."""
    lr_actor: float | None = TABLE1_SETTINGS["lr_actor"]
    """None = `lr_td` = 1e-3, Table 1's."""
    entropy_rate: float = TABLE1_SETTINGS["entropy_rate"]
    """1e-5, Table 1's."""
    normalize_obs: bool = TABLE1_SETTINGS["normalize_obs"]
    """Off, Table 1's."""
    normalize_reward: bool = TABLE1_SETTINGS["normalize_reward"]
    """Off, as the paper-era code."""


@dataclass(frozen=True)
class RTRLConfig(UnclippedTable1Config):
    gradient_mode: str = "rtrl"
    """Exact RTRL (the paper's "RTRL CTRNN" column)."""
    f_align: bool = False
    """The paper's Algorithm 2: the RTRL branch back-propagates exactly through the readouts [algorithm.md A16]."""


@dataclass(frozen=True)
class LRUConfig(UnclippedTable1Config):
    rnn: str = "lru"
    """Online LRU with exact forward-mode gradients (the paper's "RTRRL LRU" column)."""


@dataclass(frozen=True)
class LinearTDConfig(UnclippedTable1Config):
    rnn: str = "none"
    """No RNN: actor and critic are linear in the Meta-RL input (the paper's "Linear TD(lambda)")."""
