"""`import laketrace` needs only the standard library."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_import_and_log_with_optional_dependencies_blocked(tmp_path):
    """With pyspark, delta, deltalake, pyarrow and orjson unimportable, laketrace still works."""
    code = textwrap.dedent(
        f"""
        import sys
        class Block:
            blocked = ("pyspark", "delta", "deltalake", "pyarrow", "orjson", "py4j", "duckdb")
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in self.blocked:
                    raise ImportError("blocked for this test: " + name)
        sys.meta_path.insert(0, Block())
        import laketrace, spark_listener
        from laketrace.record import encoding as _encoding
        assert _encoding.BACKEND == "json", _encoding.BACKEND
        log = laketrace.get_logger("stdlib.only", {{"log_dir": {str(tmp_path)!r}, "stdout": False}})
        log.info("works", n=1)
        log.close()
        import json, os
        (name,) = [n for n in os.listdir({str(tmp_path)!r}) if n != "_laketrace"]
        rec = json.loads(open(os.path.join({str(tmp_path)!r}, name)).read())
        assert rec["msg"] == "works" and rec["context"] == {{"n": "1"}}
        try:
            laketrace.schema.spark_schema()
        except ImportError as exc:
            assert "laketrace[spark]" in str(exc)
        else:
            raise AssertionError("spark_schema should need pyspark")
        print("ok")
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_public_names_are_sorted_and_documented():
    """__all__ is sorted and every public object has a docstring."""
    import laketrace

    assert laketrace.__all__ == sorted(laketrace.__all__)
    for name in laketrace.__all__:
        if name == "__version__":
            continue
        obj = getattr(laketrace, name)
        if not isinstance(obj, str):
            assert obj.__doc__, f"{name} has no docstring"
