import pytest
import torch

from kdssm.checkpoint import load_model
from kdssm.config import DistillConfig, TrainConfig
from kdssm.data import simulate
from kdssm.distill.module import DistillationModule
from kdssm.distill.projection import FeatureProjection
from kdssm.distill.schedules import coupling_pairs
from kdssm.distill.teacher_cache import run_teacher
from kdssm.models import MODEL_PRESETS, SarSSM

WEIGHTS = dict(alpha=0.7, beta=0.5, gamma=0.3, variance_weight=0.2, moment_weight=0.15, confidence_weight=0.1)
TERM_WEIGHT = {
    "student": "alpha",
    "distillation": "beta",
    "feature": "gamma",
    "variance": "variance_weight",
    "moment": "moment_weight",
    "confidence": "confidence_weight",
}


def make_module(teacher, training: TrainConfig | None = None, **overrides):
    torch.manual_seed(1)  # the same student for every variant of a test
    student = SarSSM(model_dim=3, state_dim=8, num_layers=2, use_selectivity=False, dropout=0.0)
    dcfg = DistillConfig(**{**WEIGHTS, "curriculum_epochs": 0, **overrides})
    pairs = coupling_pairs(teacher.config.num_layers, 2)
    tcfg = training or TrainConfig()
    return DistillationModule(student, teacher, dcfg, tcfg, 10, "mini", pairs, features_cached=True)


@pytest.fixture(scope="module")
def batch(teacher_run):
    teacher = load_model(teacher_run)
    x, y = simulate("mini", 4, 0)
    pairs = coupling_pairs(teacher.config.num_layers, 2)
    layers = sorted({t for t, _ in pairs})
    targets = run_teacher(teacher, x, layers, True)
    return teacher, (x, y, torch.ones(4, dtype=torch.bool), targets.outputs, *(targets.features[i] for i in layers))


def student_grads(module, batch, state):
    module.zero_grad()
    module.loss_terms(batch, state)["total"].backward()
    return torch.cat(
        [p.grad.flatten() if p.grad is not None else torch.zeros(p.numel()) for p in module.model.parameters()]
    )


@pytest.mark.parametrize("term", list(TERM_WEIGHT))
def test_each_term_acts_and_disabling_removes_exactly_its_share(batch, term):
    teacher, data = batch
    full = make_module(teacher)
    without = make_module(teacher, **{TERM_WEIGHT[term]: 0.0})
    without.load_state_dict(full.state_dict())
    state_full, state_without = full.state_for_epoch(0), without.state_for_epoch(0)
    g_full = student_grads(full, data, state_full)
    g_without = student_grads(without, data, state_without)
    full.zero_grad()
    full.loss_terms(data, state_full)[term].backward()
    g_term = torch.cat(
        [p.grad.flatten() if p.grad is not None else torch.zeros(p.numel()) for p in full.model.parameters()]
    )
    assert g_term.norm() > 0, f"{term} does not reach the student's gradient"
    share = WEIGHTS[TERM_WEIGHT[term]] * g_term
    torch.testing.assert_close(g_full - g_without, share, rtol=1e-3, atol=1e-5 * float(g_full.norm()))


def test_projection_parameters_are_optimised(batch):
    teacher, data = batch
    module = make_module(teacher)
    opt = module.configure_optimizers()["optimizer"]
    in_opt = {id(p) for g in opt.param_groups for p in g["params"]}
    assert all(id(p) in in_opt for p in module.projections.parameters())
    before = [p.detach().clone() for p in module.projections.parameters()]
    module.loss_terms(data, module.state_for_epoch(0))["total"].backward()
    opt.step()
    assert any(not torch.equal(b, p) for b, p in zip(before, module.projections.parameters()))


def test_teacher_stays_frozen_in_eval_mode_and_out_of_checkpoints(batch):
    teacher, _ = batch
    module = make_module(teacher)
    module.train()
    assert not module.teacher.training
    assert all(not p.requires_grad for p in module.teacher.parameters())
    assert not any(k.startswith("_teacher") or k.startswith("teacher") for k in module.state_dict())
    module.teacher.train()
    with pytest.raises(RuntimeError, match="left eval mode"):
        module.on_train_epoch_start()


def test_curriculum_turns_teacher_terms_off_at_first(batch):
    teacher, data = batch
    module = make_module(teacher, curriculum_epochs=3)
    state = module.state_for_epoch(0)
    assert state["weights"].phase == "student_only" and state["teacher_share"] == 0.0
    terms = module.loss_terms(data, state)
    torch.testing.assert_close(terms["total"], terms["student"])


def test_progressive_stages_grow(batch):
    teacher, _ = batch
    module = make_module(teacher, progressive_coupling=True, stage_epochs=2)
    assert [len(module.state_for_epoch(e)["couplings"]) for e in (0, 1, 2, 4, 40)] == [1, 1, 2, 2, 2]


@pytest.mark.parametrize("student", ["standard", "compressed", "tiny", "tiny16", "ultra"])
@pytest.mark.parametrize("kind", ["linear", "pca_init", "attention"])
def test_feature_alignment_for_every_preset_pair(student, kind):
    t_cfg, s_cfg = MODEL_PRESETS["teacher"], MODEL_PRESETS[student]
    pairs = coupling_pairs(t_cfg["num_layers"], s_cfg["num_layers"])
    assert len(pairs) >= 1 and pairs[-1][0] == t_cfg["num_layers"] - 1  # the teacher's last layer is coupled
    proj = FeatureProjection(s_cfg["model_dim"], t_cfg["model_dim"], kind)
    s_feats = torch.randn(2, 32, s_cfg["model_dim"], dtype=torch.complex64)
    if kind == "pca_init":
        explained = proj.init_from_features(s_feats, torch.randn(2, 32, t_cfg["model_dim"], dtype=torch.complex64))
        assert explained <= 1.0 + 1e-6
    out = proj(s_feats)
    assert out.shape == (2, 32, t_cfg["model_dim"]) and out.dtype == torch.complex64


def test_least_squares_start_recovers_a_linear_relation():
    g = torch.Generator().manual_seed(0)
    student = torch.randn(4, 64, 3, dtype=torch.complex64, generator=g)
    mix = torch.randn(3, 5, dtype=torch.complex64, generator=g)
    proj = FeatureProjection(3, 5, "pca_init")
    assert proj.init_from_features(student, student @ mix) > 0.9999
    torch.testing.assert_close(proj(student), student @ mix, rtol=1e-3, atol=1e-3)


def test_projections_sit_on_the_student_side_and_teacher_features_are_fixed_targets(batch):
    teacher, data = batch
    module = make_module(teacher)
    for t, s_layer in module.pairs:
        lin = module.projections[module.pair_name(t, s_layer)].linear
        assert lin.in_features == 2 * 3 and lin.out_features == 2 * teacher.config.model_dim
    # shrinking the projection cannot lower the loss: the teacher's features are the normalising side
    with torch.no_grad():
        for p in module.projections.parameters():
            p.zero_()
    feature = module.loss_terms(data, module.state_for_epoch(0))["feature"]
    assert float(feature.detach()) >= 1.0 - 1e-4


def test_unlabelled_columns_reach_only_the_teacher_terms(batch):
    teacher, (x, y, _, t_out, *feats) = batch
    module = make_module(teacher)
    state = module.state_for_epoch(0)
    labelled = torch.tensor([True, False, True, False])
    terms = module.loss_terms((x, y, labelled, t_out, *feats), state)
    y_other = y.clone()
    y_other[~labelled] = 123.0  # whatever an unlabelled column's y holds is never read
    again = module.loss_terms((x, y_other, labelled, t_out, *feats), state)
    for name in ("student", "confidence", "distillation", "total"):
        torch.testing.assert_close(terms[name], again[name])
    only = module.loss_terms(tuple(t[labelled] for t in (x, y, labelled, t_out, *feats)), state)
    torch.testing.assert_close(terms["student"], 0.5 * only["student"], rtol=1e-5, atol=1e-6)  # half the batch
    assert not torch.allclose(terms["distillation"], only["distillation"])  # the teacher terms see all four
    none = module.loss_terms((x, y, torch.zeros(4, dtype=torch.bool), t_out, *feats), state)
    assert float(none["student"]) == 0.0 and float(none["distillation"]) > 0.0
    none["total"].backward()  # a batch without labels still trains the student through the teacher
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in module.model.parameters())


def test_temperature_reaches_the_student_through_the_teacher_error_profile(batch):
    teacher, data = batch
    profile = torch.linspace(0.0, 0.4, data[0].shape[1])
    grads = []
    for temp in (1.0, 4.0):
        module = make_module(teacher, temperature=temp, beta=1.0, alpha=0.0, gamma=0.0, preserve_distribution=False)
        module.teacher_error = profile
        g = student_grads(module, data, module.state_for_epoch(0))
        grads.append(g / g.norm())
    assert (grads[0] - grads[1]).norm() > 1e-3


def test_teacher_bound_stops_the_teacher_pulling_a_better_student_back(batch):
    teacher, (x, y, _, t_out, *_) = batch
    labelled = torch.tensor([True, True, False, False])
    bounded, plain = make_module(teacher), make_module(teacher, teacher_bound=False)
    trust = bounded.trust(y, t_out, y, labelled)  # a student equal to the truth beats the teacher everywhere
    assert float(trust[:2].sum()) == 0.0 and bool((trust[2:] == 1.0).all())  # unlabelled columns keep it all
    assert plain.trust(y, t_out, y, labelled) is None
    on_labelled = bounded.teacher_label_loss(y[:2], t_out[:2], x[:2], 2.5, trust[:2])
    assert float(on_labelled) == 0.0  # no pull back towards the teacher's errors
    assert float(plain.teacher_label_loss(y[:2], t_out[:2], x[:2], 2.5)) > 0.0
    assert float(bounded.teacher_label_loss(y, t_out, x, 2.5, trust)) > 0.0  # the unlabelled half still teaches


def test_confidence_softness_is_its_own_knob_and_defaults_to_the_temperature(batch):
    """The confidence term's softness was the temperature's value; its own field keeps that by default."""
    teacher, data = batch
    default = make_module(teacher, temperature=2.5)
    state = default.state_for_epoch(0)
    same = make_module(teacher, temperature=2.5, confidence_softness=2.5)
    other = make_module(teacher, temperature=2.5, confidence_softness=0.01)
    for module in (same, other):
        module.load_state_dict(default.state_dict())
    with torch.no_grad():
        base = default.loss_terms(data, state)
        torch.testing.assert_close(same.loss_terms(data, state)["confidence"], base["confidence"])
        changed = other.loss_terms(data, state)
    assert float(changed["confidence"]) != pytest.approx(float(base["confidence"]), rel=1e-3)
    torch.testing.assert_close(changed["distillation"], base["distillation"])  # the temperature's use is untouched


@pytest.mark.parametrize("column_weight", [0.0, 1.0])
def test_a_teacher_label_weighs_a_column_as_a_true_label_does(batch, column_weight):
    """The teacher term and the ground-truth term are the same objective of their labels (whole columns,
    each column's own ratio, the valid region), so the twin and the distilled student differ by their
    labels only (issue 33)."""
    teacher, (x, y, *_) = batch
    module = make_module(teacher, TrainConfig(valid_weight=30.0, column_weight=column_weight))
    s_out = y + 0.1 * torch.randn_like(y)
    as_teacher = module.teacher_label_loss(s_out, y, x, 2.5)  # no error profile: the temperature weighs nothing
    assert float(as_teacher) == pytest.approx(float(module.ground_truth_loss(s_out, y, x)), rel=1e-5)
