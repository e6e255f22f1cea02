import pytest

from genlab.presets import auto_preset, config_for, resolve_preset


def test_none_picks_cpu_on_a_cpu_backend(monkeypatch):
    monkeypatch.delenv("GENLAB_PRESET", raising=False)
    assert resolve_preset(None) == auto_preset() == "cpu"


def test_environment_overrides_the_hardware_choice(monkeypatch):
    monkeypatch.setenv("GENLAB_PRESET", "tiny")
    assert resolve_preset(None) == "tiny"
    assert resolve_preset("gpu") == "gpu"  # an explicit preset wins


def test_unknown_preset_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("GENLAB_PRESET", "huge")
    with pytest.raises(ValueError, match="unknown preset 'huge'.*tiny, cpu, gpu"):
        resolve_preset(None)


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
