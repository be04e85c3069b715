"""Configuration: read once, bad values named."""
import pytest

from helpline.config import Config, ConfigError


def test_defaults_on_the_embedded_default(tmp_path):
    cfg = Config.from_env({"HELPLINE_DATA_DIR": str(tmp_path)}, require_secret=False)
    assert cfg.database_url == f"sqlite:///{tmp_path / 'helpline.db'}"
    assert cfg.embedded_database and cfg.escalation_ack_seconds == 120 and cfg.queue_timeout_seconds == 300
    assert cfg.default_region == "DE" and not cfg.twilio_enabled and not cfg.telegram_enabled
    again = Config.from_env({"HELPLINE_DATA_DIR": str(tmp_path)}, require_secret=False)
    assert cfg.secret_key == again.secret_key and len(cfg.secret_key) > 40  # generated once, kept


@pytest.mark.parametrize("var,value", [
    ("ESCALATION_ACK_SECONDS", "soon"), ("ESCALATION_ACK_SECONDS", "0"), ("QUEUE_TIMEOUT_SECONDS", "-5"),
    ("HELPLINE_DEFAULT_REGION", "XX"), ("PUBLIC_BASE_URL", "helpline.example.org"),
    ("TWILIO_SMS_NUMBER", "0151 123"), ("TWILIO_API_BASE_URL", "ftp://x"),
])
def test_bad_values_are_named(tmp_path, var, value):
    with pytest.raises(ConfigError, match=var):
        Config.from_env({"HELPLINE_DATA_DIR": str(tmp_path), "SECRET_KEY": "s", var: value})


def test_secret_key_is_required_outside_serve(tmp_path):
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        Config.from_env({"HELPLINE_DATA_DIR": str(tmp_path)})


def test_external_database_needs_an_encryption_key(tmp_path):
    from helpline import crypto
    cfg = Config.from_env({"HELPLINE_DATA_DIR": str(tmp_path), "SECRET_KEY": "s",
                           "DATABASE_URL": "postgresql+psycopg://x@127.0.0.1/db"})
    with pytest.raises(ConfigError, match="HELPLINE_ENCRYPTION_KEY"):
        crypto.configure(cfg)
