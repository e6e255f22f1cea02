import os

import pytest

from genlab.presets import PresetError, auto_preset, config_for, resolve_preset


def test_none_picks_cpu_on_a_cpu_backend(monkeypatch):
    monkeypatch.delenv("GENLAB_PRESET", raising=False)
    assert resolve_preset(None) == auto_preset() == "cpu"


def test_environment_overrides_the_hardware_choice(monkeypatch):
    monkeypatch.setenv("GENLAB_PRESET", "tiny")
    assert resolve_preset(None) == "tiny"
    assert resolve_preset("gpu") == "gpu"  # an explicit preset wins


def test_unknown_preset_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("GENLAB_PRESET", "huge")
    with pytest.raises(PresetError, match="GENLAB_PRESET='huge' is not a preset.*tiny, cpu, gpu"):
        resolve_preset(None)
    with pytest.raises(ValueError, match="unknown preset 'big'.*tiny, cpu, gpu"):
        resolve_preset("big")


def test_cli_says_a_bad_genlab_preset_in_one_line(monkeypatch, capsys):
    from genlab.cli import main

    monkeypatch.setenv("GENLAB_PRESET", "huge")
    assert main(["demo", "--only", "gan2d", "--out", "/nonexistent/never-written"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == ("genlab: GENLAB_PRESET='huge' is not a preset: set it to one of tiny, cpu, gpu or unset it "
                           "(then cpu or gpu is picked from the hardware)")


@pytest.mark.parametrize("seeds", ["0", "-2", "two"])
def test_cli_refuses_seeds_below_one(seeds, capsys):
    from genlab.cli import main

    with pytest.raises(SystemExit) as info:
        main(["eval", "classifier", "--preset", "tiny", "--seeds", seeds])
    assert info.value.code == 2  # argparse's usage error, before anything trains
    assert "--seeds" in capsys.readouterr().err


def test_config_for_calls_the_preset_constructor():
    class Cfg:
        @classmethod
        def tiny(cls):
            return "t"

        @classmethod
        def cpu(cls):
            return "c"

        @classmethod
        def gpu(cls):
            return "g"

    assert [config_for(Cfg, p) for p in ("tiny", "cpu", "gpu")] == ["t", "c", "g"]


def test_tiny_runs_ask_xla_for_quick_compiles_and_respect_the_users_flags(monkeypatch):
    from genlab.presets import TINY_XLA_FLAGS, compile_fast_for_tiny

    monkeypatch.setenv("XLA_FLAGS", "--xla_force_host_platform_device_count=4")
    assert compile_fast_for_tiny("cpu") is False
    assert os.environ["XLA_FLAGS"] == "--xla_force_host_platform_device_count=4"
    assert compile_fast_for_tiny("tiny") is True
    assert os.environ["XLA_FLAGS"].split() == ["--xla_force_host_platform_device_count=4", *TINY_XLA_FLAGS]
    monkeypatch.setenv("XLA_FLAGS", "--xla_backend_optimization_level=3")
    assert compile_fast_for_tiny("tiny") is False
    assert os.environ["XLA_FLAGS"] == "--xla_backend_optimization_level=3"


def test_experiment_flags_are_added_unless_the_user_set_them(monkeypatch):
    from genlab.experiments import get
    from genlab.presets import add_xla_flags
    from genlab.train.xla_flags import CONV_XLA_FLAGS

    assert get("latent-diffusion").xla_flags == CONV_XLA_FLAGS and get("flow-2d").xla_flags == ()
    monkeypatch.setenv("XLA_FLAGS", "--xla_force_host_platform_device_count=4")
    assert add_xla_flags(CONV_XLA_FLAGS) == list(CONV_XLA_FLAGS)
    assert os.environ["XLA_FLAGS"].split() == ["--xla_force_host_platform_device_count=4", *CONV_XLA_FLAGS]
    assert add_xla_flags(CONV_XLA_FLAGS) == []  # already there: not twice
    monkeypatch.setenv("XLA_FLAGS", "--xla_cpu_experimental_ynn_fusion_type=dot,eltwise")
    assert add_xla_flags(CONV_XLA_FLAGS) == [] and os.environ["XLA_FLAGS"].endswith("dot,eltwise")


def test_importing_every_experiment_and_the_bench_starts_no_backend():
    """`genlab eval/ship/bench` add an experiment's XLA flags after importing it: they only take effect if nothing
    imported started JAX's backend."""
    import subprocess
    import sys

    code = ("import jax._src.xla_bridge as xb\nfrom genlab import experiments\nexperiments.load()\n"
            "import genlab.bench.run, genlab.cli\nprint(xb.backends_are_initialized())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "False"
