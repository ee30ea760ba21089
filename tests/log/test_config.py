"""Config validation: every bad key or value gets a ValueError that teaches."""

from __future__ import annotations

import datetime as dt
import os

import pytest

from laketrace import ConfigError, get_logger
from laketrace.log import registry


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"levle": "INFO"}, r"unknown key 'levle'\. Did you mean 'level'\?"),
        ({"rotaton": "1 MB"}, r"Did you mean 'rotation'\?"),
        ({"level": "VERBOSE"}, r"config 'level': unknown level 'VERBOSE'.*TRACE, DEBUG"),
        ({"level": "INFOO"}, r"Did you mean 'INFO'\?"),
        ({"level": 3.5}, r"config 'level': level must be a name"),
        ({"rotation": "sometimes"}, r"config 'rotation': cannot understand 'sometimes'.*500 MB"),
        ({"rotation": 0}, r"config 'rotation': a size must be positive"),
        ({"retention": "forever"}, r"config 'retention': cannot understand 'forever'.*7 days"),
        ({"retention": 0}, r"config 'retention': keep at least 1"),
        ({"compression": "rar"}, r"config 'compression': cannot understand 'rar'.*gz"),
        ({"stdout": "yes"}, r"config 'stdout': expected True or False"),
        ({"format": "{tme} {message}"}, r"unknown field \{tme\}.*Did you mean \{time\}\?"),
        ({"format": "{message"}, r"config 'format'.*not a valid template"),
        ({"filter": 42}, r"config 'filter': expected a callable"),
        ({"redact": ["(unclosed"]}, r"config 'redact'.*not a valid regular expression"),
        ({"clock": "now"}, r"config 'clock': expected a callable"),
        ({"file_mode": "rw"}, r"config 'file_mode'"),
        ({"path": "/a", "table": "c.s.t"}, r"either 'path'.*or 'table'"),
        ({"queue_full": "explode"}, r"config 'queue_full'.*'block'.*'drop'"),
    ],
)
def test_bad_config_raises_teaching_error(config, expected, log_dir):
    """Each bad config raises ConfigError (a ValueError) naming the key and accepted forms."""
    config = {"log_dir": log_dir, **config}
    with pytest.raises(ValueError, match=expected) as info:
        get_logger("bad.config", config)
    assert isinstance(info.value, ConfigError)


def test_missing_log_dir_is_created(tmp_path):
    """A missing log_dir is created at get_logger time."""
    target = tmp_path / "a" / "b" / "spool"
    log = get_logger("mk.dir", {"log_dir": str(target), "stdout": False})
    assert target.is_dir()
    log.close()


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_log_dir_fails_at_get_logger(tmp_path):
    """A log_dir that cannot be written fails at get_logger, not at the first log call."""
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    with pytest.raises(ConfigError, match="not writable"):
        get_logger("ro.dir", {"log_dir": str(ro)})


def test_unwritable_log_dir_message(tmp_path, monkeypatch):
    """When the process may not write log_dir, the error names the directory and the uid."""
    from laketrace.log import config as _config

    monkeypatch.setattr(_config.os, "access", lambda path, mode: False)
    with pytest.raises(ConfigError, match=r"is not writable by this process \(uid"):
        get_logger("ro.dir2", {"log_dir": str(tmp_path)})


def test_log_dir_that_is_a_file_fails(tmp_path):
    """A log_dir path that is a regular file fails with a clear error."""
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(ConfigError, match="config 'log_dir'"):
        get_logger("file.dir", {"log_dir": str(f)})


def test_log_dir_under_a_file_fails(tmp_path):
    """A log_dir that cannot be created explains why and what to do."""
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(ConfigError, match=r"cannot create .*writable local directory"):
        get_logger("under.file", {"log_dir": str(f / "sub")})


@pytest.mark.parametrize("remote", ["abfss://ws@onelake.dfs.fabric.microsoft.com/x", "dbfs:/logs"])
def test_remote_log_dir_is_rejected(remote):
    """A remote URI as log_dir is rejected with a pointer to the flush target options."""
    with pytest.raises(ConfigError, match=r"remote URI.*flush target"):
        get_logger("remote.dir", {"log_dir": remote})


def test_fuse_mount_log_dir_is_rejected():
    """A FUSE network mount (/dbfs, /Volumes, /lakehouse) is not a spool location."""
    with pytest.raises(ConfigError, match="network \\(FUSE\\) mount"):
        get_logger("fuse.dir", {"log_dir": "/lakehouse/default/Files/logs"})


def test_bad_handler_spec_errors(make_logger):
    """add_handler validates its spec: sink required, unknown keys suggested, bad sinks named."""
    log = make_logger()
    with pytest.raises(ConfigError, match="'sink' is required"):
        log.add_handler({"level": "INFO"})
    with pytest.raises(ConfigError, match="Did you mean 'format'"):
        log.add_handler({"sink": "stdout", "fromat": "{message}"})
    with pytest.raises(ConfigError, match="expected 'stdout', 'stderr', a file path or a callable"):
        log.add_handler({"sink": 42})
    with pytest.raises(ConfigError, match="must be a dict"):
        log.add_handler("stdout")


def test_bad_logger_name():
    """An empty logger name is rejected."""
    with pytest.raises(ConfigError, match="non-empty string"):
        get_logger("")


def test_config_must_be_a_dict():
    """A non-dict config is rejected with its type named."""
    with pytest.raises(ConfigError, match="must be a dict of options, got list"):
        get_logger("x", ["level", "INFO"])  # type: ignore[arg-type]


DESTRUCTIVE = [
    (
        {"retention": dt.timedelta(days=-1)},
        r"'retention'.*must be positive, got datetime.timedelta\(days=-1\).*'7 days'",
    ),
    ({"retention": dt.timedelta(0)}, r"'retention'.*must be positive, got datetime.timedelta\(0\)"),
    ({"retention": "0 days"}, r"'retention'.*must be positive, got '0 days'"),
    ({"retention": "-1 days"}, r"'retention'.*cannot understand '-1 days'.*Accepted"),
    ({"retention": "10 M"}, r"'retention'.*'10 M'.*ambiguous.*'10 MB'.*'10 min'"),
    ({"retention": "7"}, r"'retention'.*cannot understand '7'.*7 days"),
    ({"rotation": "10 M"}, r"'rotation'.*'10 M'.*ambiguous.*Accepted.*500 MB"),
    ({"rotation": "10 m"}, r"'rotation'.*'10 m'.*ambiguous"),
    ({"rotation": "500 MBs"}, r"'rotation'.*'500 MBs'.*write '500 MB'"),
    ({"rotation": "500"}, r"'rotation'.*cannot understand '500'.*KB, MB, GB"),
    ({"rotation": "10 k"}, r"'rotation'.*'10 k'.*'10 KB'"),
    ({"rotation": "0 MB"}, r"'rotation'.*size must be positive.*'0 MB'"),
    ({"rotation": "0 s"}, r"'rotation'.*interval must be positive"),
    ({"rotation": dt.timedelta(seconds=-5)}, r"'rotation'.*interval must be positive"),
    ({"file_mode": 0}, r"'file_mode'.*0.*refused.*0o600"),
    ({"file_mode": 0o666}, r"'file_mode'.*0o666.*refused.*group/others"),
    ({"file_mode": 0o622}, r"'file_mode'.*0o622.*refused"),
    ({"file_mode": "602"}, r"'file_mode'.*'602'.*refused"),
    ({"file_mode": 0o400}, r"'file_mode'.*0o400.*refused"),
    ({"file_mode": 0o700}, r"'file_mode'.*0o700.*refused"),
    ({"file_mode": 0o1600}, r"'file_mode'.*expected owner read\+write"),
    ({"log_dir": ""}, r"'log_dir'.*''.*not a directory path.*log_dir="),
    ({"log_dir": "   "}, r"'log_dir'.*not a directory path"),
    ({"log_dir": "/tmp/a\x00b"}, r"'log_dir'.*NUL"),
    ({"log_dir": 42}, r"'log_dir'.*expected a directory path"),
    ({"path": ""}, r"config 'path':.*'' is empty"),
    ({"path": "/tmp/t\x00x"}, r"config 'path':.*NUL"),
    ({"path": "ftp://host/t"}, r"config 'path':.*unsupported URI"),
    ({"path": 3}, r"config 'path':.*expected a path string"),
    ({"table": "bad name!"}, r"config 'table':.*'bad name!' is not a table name.*catalog"),
    ({"table": ""}, r"config 'table':.*not a table name"),
    ({"table": "a.b.c.d"}, r"config 'table':.*not a table name"),
    ({"path": "/a", "table": ""}, r"config 'table'"),
]


@pytest.mark.parametrize(("config", "expected"), DESTRUCTIVE)
def test_destructive_or_ambiguous_config_is_refused(config, expected, tmp_path):
    """Values that could destroy data or mean something else are a ConfigError at get_logger."""
    config = {"log_dir": str(tmp_path / "spool"), "stdout": False, **config}
    with pytest.raises(ConfigError, match=expected):
        get_logger("refused.config", config)


@pytest.mark.parametrize(
    "config",
    [
        {"file_mode": 0o600},
        {"file_mode": 0o640},
        {"file_mode": "644"},
        {"retention": "7 days"},
        {"retention": "12 h"},
        {"retention": dt.timedelta(hours=1)},
        {"rotation": "500 MB"},
        {"rotation": "1.5 GiB"},
        {"rotation": "10kb"},
        {"rotation": "30 s"},
        {"rotation": "5 min"},
        {"rotation": "2 weeks"},
        {"path": "relative/table"},
        {"table": "main.ops.app_logs"},
        {"table": "`odd name`"},
    ],
)
def test_accepted_forms_still_work(config, tmp_path):
    """The documented forms are accepted (and a bare table name needs no Spark to configure)."""
    config = {"log_dir": str(tmp_path / "spool"), "stdout": False, **config}
    log = get_logger("accepted.config", config)
    log.close()
    registry.forget("accepted.config")


def test_log_dir_left_out_means_the_default(tmp_path, monkeypatch):
    """Without a log_dir key the spool is the runtime default (log_dir=None means no spool)."""
    monkeypatch.setenv("LAKETRACE_LOG_DIR", str(tmp_path / "default"))
    log = get_logger("default.dir", {"stdout": False})
    assert log.log_dir == str(tmp_path / "default")
    log.close()
    registry.forget("default.dir")
