"""search.space YAML -> Optuna distributions -> a validated student config."""

import optuna.distributions as od

from kdssm.config import RunConfig
from kdssm_tune import space


def test_distributions_follow_the_yaml():
    cfg = RunConfig.from_dict(
        {
            "search": {
                "space": {
                    "model_dim": {"choices": [4, 8]},
                    "state_dim": {"low": 16, "high": 64},
                    "num_layers": {"low": 1, "high": 3},
                    "learning_rate": {"low": 1e-3, "high": 1e-2, "log": True},
                    "bidirectional": {"choices": [True, False]},
                }
            }
        }
    )
    dist = space.distributions(cfg.search)
    assert dist["model_dim"] == od.CategoricalDistribution([4, 8])
    assert dist["state_dim"] == od.IntDistribution(16, 64, step=2)  # state_dim must stay even
    assert dist["num_layers"] == od.IntDistribution(1, 3)
    assert dist["learning_rate"] == od.FloatDistribution(1e-3, 1e-2, log=True)
    assert dist["bidirectional"] == od.CategoricalDistribution([True, False])


def test_a_sample_overrides_its_sections_only():
    base = RunConfig()
    cfg = space.apply(base, {"model_dim": 8, "temperature": 3.5, "learning_rate": 0.004, "trial_note": "x"})
    assert (cfg.model.model_dim, cfg.distillation.temperature, cfg.training.learning_rate) == (8, 3.5, 0.004)
    assert cfg.model.state_dim == base.model.state_dim and cfg.data == base.data


def test_the_loss_recipe_is_searchable():
    cfg = RunConfig.from_dict(
        {
            "search": {
                "space": {"preserve_distribution": {"choices": [True, False]}, "teacher_bound": {"choices": [False]}}
            }
        }
    )
    dist = space.distributions(cfg.search)
    assert dist["preserve_distribution"] == od.CategoricalDistribution([True, False])
    sample = space.apply(RunConfig(), {"preserve_distribution": False, "teacher_bound": False})
    assert not sample.distillation.preserve_distribution and not sample.distillation.teacher_bound


def test_the_valid_shrink_is_searchable():
    """A shrunk student cannot be folded (slower on scenes): the search weighs that, the default keeps it off."""
    cfg = RunConfig.from_dict({"search": {"space": {"valid_shrink": {"choices": [False, True]}}}})
    assert space.distributions(cfg.search)["valid_shrink"] == od.CategoricalDistribution([False, True])
    assert space.apply(RunConfig(), {"valid_shrink": True}).model.valid_shrink
    assert not RunConfig().model.valid_shrink
