"""Each command offers the flags it uses: counted options, help on every flag, readable metavars, the same
names for the same things, `--set` for any other field; `--help` and argument errors without loading torch."""

import re
import subprocess
import sys

import pytest
import yaml

from kdssm.cli import main

from .helpers import cli

COMMANDS = ["train", "distill", "sweep", "demo", "plan", "evaluate", "compare", "focus", "export", "scene", "pareto"]


def help_text(command: str, capsys) -> str:
    with pytest.raises(SystemExit):
        main([command, "--help"])
    return capsys.readouterr().out


def options(text: str) -> list[str]:
    """The option lines of a --help (one per option, its aliases on the same line)."""
    return [line.strip() for line in text.splitlines() if re.match(r"^  -", line)]


def test_train_offers_at_most_45_options_and_none_of_the_sweep(capsys):
    text = help_text("train", capsys)
    assert len(options(text)) <= 45, len(options(text))
    for flag in ("--temperature", "--num_samples", "--tracking_uri", "--alpha"):
        assert flag not in text, flag  # cannot matter to train
    assert "--set SECTION.FIELD=VALUE" in text


@pytest.mark.parametrize("command", COMMANDS)
def test_every_flag_has_help_and_a_readable_metavar(command, capsys):
    from kdssm.cli.main import build_parser

    parser = build_parser()._subparsers._group_actions[0].choices[command]
    bare = [a.option_strings or [a.dest] for a in parser._actions if not a.help]
    assert not bare, f"{command}: flags without help: {bare}"
    assert "CFG__" not in help_text(command, capsys)


def test_the_same_thing_has_the_same_name(capsys):
    for command in ("train", "distill", "sweep", "evaluate", "scene", "demo"):
        assert "--preset" in help_text(command, capsys), command
    assert "--data_preset" not in help_text("evaluate", capsys)
    assert "--student_preset" in help_text("distill", capsys)  # the seeds' student sizes
    assert "--student_model_dim" in help_text("distill", capsys)  # the seed's flag names stay


def test_set_reaches_a_field_without_a_flag_and_names_a_bad_one(capsys):
    assert main(["train", "--set", "model.dropout=0.25", "--set", "training.grad_clip=0.5", "--print_config"]) == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["model"]["dropout"] == 0.25 and printed["training"]["grad_clip"] == 0.5
    for argv, expected in (
        (["train", "--set", "model.dropout"], "expected section.field=value"),
        (["train", "--set", "nope.x=1"], "no config section 'nope'"),
        (["train", "--set", "model.nope=1", "--print_config"], "model.nope: unknown key"),
        (["train", "--set", "model.dropout=2", "--print_config"], "model.dropout"),
    ):
        assert cli(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and expected in err, err


@pytest.mark.slow
def test_help_and_argument_errors_do_not_load_torch():
    """What makes them answer in a fraction of a second: the parser and the one-line errors import no
    torch, Lightning, Ray or MLflow (timed in benchmarks/cli_startup.py, not here)."""
    code = (
        "import sys\nfrom kdssm.cli import main\n"
        "for argv in (['train', '--help'], ['distill', '--help'], ['sweep', '--help'], ['train', '--bogus'],"
        " ['train', '--num_epochs', '-1'], ['distill', '--teacher_checkpoint', 'x', '--set', 'model.x=1']):\n"
        "    try:\n        main(argv)\n    except SystemExit:\n        pass\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'pytorch_lightning', 'ray', 'mlflow'})\n"
        "print('HEAVY', heavy, file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert "HEAVY []" in done.stderr, done.stderr[-2000:]
