"""The command line as a script sees it: version, exit codes, JSON errors, the train verb,
terminal-width tables, completion, and validate-runs writing only where told."""

import json
import subprocess
import sys

import pytest
import yaml

import roofline
from roofline.cli import main
from roofline.cli import output as cli_output

TRAIN = ["train", "llama-3-70b", "h100", "--count", "64", "--seq-len", "8192",
         "--global-batch", "512", "--tp", "8", "--pp", "2"]


def test_version(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0
    assert capsys.readouterr().out.strip() == f"roofline {roofline.__version__}"


def test_exit_codes_fit_does_not_fit_bad_input(capsys):
    assert main(["fit", "llama-3-8b", "h100", "--count", "1"]) == 0
    assert "FITS" in capsys.readouterr().out
    assert main(["fit", "gpt-4", "h100", "--count", "32"]) == 1
    assert "DOES NOT FIT" in capsys.readouterr().out
    assert main(["fit", "no-such-model", "h100"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "unknown model 'no-such-model'" in err
    assert main(["infer", "llama-3-8b", "h100", "--batch", "x"]) == 2
    assert "argument --batch: invalid int value: 'x'" in capsys.readouterr().err


def test_errors_are_json_under_json(capsys):
    assert main(["infer", "no-such-model", "h100", "--json"]) == 2
    err = json.loads(capsys.readouterr().out)["error"]
    assert err["type"] == "SpecError" and "unknown model 'no-such-model'" in err["message"]
    assert err["problems"][0]["message"] in err["message"]
    assert main(["infer", "llama-3-8b", "h100", "--batch", "x", "--json"]) == 2
    err = json.loads(capsys.readouterr().out)["error"]
    assert err["type"] == "UsageError" and "--batch" in err["message"]


def test_train_evaluates_one_layout(capsys):
    assert main([*TRAIN, "--tokens", "1e12", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["tp"], out["pp"], out["dp"], out["count"]) == (8, 2, 4, 64)
    assert out["fits"] is True and 0.2 < out["mfu"] < 0.7
    # tokens / throughput = run time (hand check of the run arithmetic)
    assert out["total_time_s"] == pytest.approx(1e12 / out["tokens_per_s"], rel=1e-6)
    # the same layout through the library gives the same step time
    lib = roofline.train("llama-3-70b", "h100", count=64, seq_len=8192, global_batch=512,
                         tp=8, pp=2)
    assert out["step_time_s"] == pytest.approx(float(lib["step_time_s"]))


def test_train_exit_codes(capsys):
    # 405B with ZeRO-1 on 8 chips: ~16 B/parameter of state cannot fit in 8 x 80 GB
    small = ["train", "llama-3.1-405b", "h100", "--count", "8", "--seq-len", "4096",
             "--global-batch", "64", "--tp", "8"]
    assert main(small) == 1
    assert "fits              False" in capsys.readouterr().out
    assert main([*TRAIN[:-4], "--tp", "7"]) == 2  # 7 does not divide 64 chips
    assert "impossible training layout" in capsys.readouterr().err


def test_tables_fit_the_terminal(capsys, monkeypatch):
    monkeypatch.setattr(cli_output, "terminal_width", lambda: 80)
    assert main(["chips"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert max(len(line) for line in lines) <= 80
    monkeypatch.setattr(cli_output, "terminal_width", lambda: None)  # a pipe: full rows
    assert main(["chips"]) == 0
    assert max(len(line) for line in capsys.readouterr().out.splitlines()) > 80


@pytest.mark.parametrize("shell", ["bash", "zsh"])
def test_completion_script_knows_the_commands(capsys, shell):
    assert main(["completion", shell]) == 0
    script = capsys.readouterr().out
    for command in ("infer", "train", "fit", "validate-runs", "completion"):
        assert command in script
    assert "--global-batch" in script


def test_bash_completion_completes_a_command(tmp_path):
    script = tmp_path / "roofline.bash"
    script.write_text(subprocess.run([sys.executable, "-m", "roofline", "completion", "bash"],
                                     capture_output=True, text=True, check=True).stdout)
    probe = (f"source {script}; COMP_WORDS=(roofline tra); COMP_CWORD=1; "
             "COMP_LINE='roofline tra'; COMP_POINT=12; "
             "$(complete -p roofline | sed 's/.*-F \\([^ ]*\\).*/\\1/'); "
             "echo ${COMPREPLY[@]}")
    out = subprocess.run(["bash", "-c", probe], capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["train"], out.stderr


def test_progress_is_off_when_stderr_is_not_a_terminal(capsys):
    with cli_output.progress("searching layouts", after_s=0.0):
        pass
    assert capsys.readouterr().err == ""


def test_validate_runs_writes_only_where_told(tmp_path, monkeypatch, capsys):
    from roofline import validation
    from roofline.validation import run

    monkeypatch.setattr(run, "in_source_checkout", lambda: False)  # an installed wheel
    before = validation.DOC_PATH.read_text()
    one = tmp_path / "one.yaml"
    one.write_text(yaml.safe_dump([validation.load_cases()[0].model_dump(mode="json",
                                                                          exclude_none=True)]))
    main(["validate-runs", "--cases", str(one)])
    assert "report not written (pass --output PATH" in capsys.readouterr().out
    assert validation.DOC_PATH.read_text() == before
    assert main(["validate-runs", "--calibrate", "--cases", str(one)]) == 2
    assert "--calibration-output" in capsys.readouterr().err
    report = tmp_path / "report.md"
    main(["validate-runs", "--cases", str(one), "--output", str(report)])
    assert validation.load_cases(one)[0].id in report.read_text()
