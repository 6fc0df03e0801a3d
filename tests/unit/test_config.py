import pytest

from labctl.config import load_config
from labctl.errors import ConfigError


def test_defaults_listen_on_loopback(tmp_path):
    cfg = load_config(env={})
    assert cfg.listen == "127.0.0.1"
    assert cfg.accel == "auto"


def test_file_env_and_overrides_in_order(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text('listen = "192.0.2.10"\nport_min = 45000\nport_max = 45100\n')
    cfg = load_config(f, env={"LABCTL_PORT_MIN": "45010"}, port_max=45050)
    assert (cfg.listen, cfg.port_min, cfg.port_max) == ("192.0.2.10", 45010, 45050)
    assert str(f) in cfg.source


@pytest.mark.parametrize("text,field", [
    ('lisen = "1.2.3.4"\n', "unknown field 'lisen'"),
    ('listen = "my-host"\n', "field 'listen'"),
    ('accel = "xen"\n', "field 'accel'"),
    ('port_min = "abc"\n', "field 'port_min'"),
    ('port_min = 50000\nport_max = 40000\n', "port_min"),
    ('listen = \n', "not valid TOML"),
])
def test_bad_config_names_file_and_field(tmp_path, text, field):
    f = tmp_path / "bad.toml"
    f.write_text(text)
    with pytest.raises(ConfigError) as exc:
        load_config(f, env={})
    assert field in exc.value.message
    assert "bad.toml" in exc.value.message or "option" in exc.value.message


def test_missing_explicit_config_file(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.toml", env={})


def test_bad_environment_value_is_named():
    with pytest.raises(ConfigError, match="LABCTL_SEAT_VCPUS"):
        load_config(env={"LABCTL_SEAT_VCPUS": "many"})
