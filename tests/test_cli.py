"""The command line itself: exact flag names, usage of the right subcommand, --version, --help."""

import pytest

from sat_hw.flow.cli import main


@pytest.mark.parametrize("argv, needle", [
    (["build", "--wbit", "3"], "--wbits"),           # abbreviations are typos, not flags
    (["build", "--in_channels", "3"], "--in-channels"),
    (["train", "--out", "x.pt", "--epoch", "2"], "--epochs"),
])
def test_unknown_flags_refused_by_their_subcommand(argv, needle, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert f"usage: sat_hw {argv[0]}" in err  # the subcommand's usage, not the top level's
    assert "unrecognized arguments" in err and f"did you mean {needle}?" in err


def test_version(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0
    assert capsys.readouterr().out.startswith("sat_hw 0.")


def test_help_shows_defaults(capsys):
    with pytest.raises(SystemExit):
        main(["build", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "(default: 4)" in out and "(default: 'u250')" in out and "(default: 100)" in out
